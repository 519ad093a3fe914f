// The admin page: polls its JSON API (overview every second, rooms every two) and shows it.
import { getJson } from './api.js';
import { RateChart } from './chart.js';
import { showOverview } from './overview.js';
import { disconnectForm, Rooms } from './rooms.js';

const OVERVIEW_MS = 1000;
const ROOMS_MS = 2000;

const status = document.getElementById('status');
const chart = new RateChart(document.getElementById('chart'));
const rooms = new Rooms(disconnectForm());

function problem(err) {
  status.textContent = err.status === 401 ? 'not signed in: reload the page to give the admin password' : `cannot reach the service: ${err.message}`;
  status.className = 'bad';
}

/** Runs `step` now and again `ms` after each run ends (never two at once). */
function every(ms, step) {
  const run = async () => {
    try {
      await step();
    } catch (err) {
      problem(err);
    }
    setTimeout(run, ms);
  };
  void run();
}

every(OVERVIEW_MS, async () => {
  const overview = await getJson('overview');
  showOverview(overview);
  chart.show(overview.rates);
  status.textContent = `updated ${new Date(overview.at).toLocaleTimeString()}`;
  status.className = 'muted';
});
every(ROOMS_MS, () => rooms.refresh());
