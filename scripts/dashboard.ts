/** `npm run dashboard`: rewrites deploy/grafana/dashboards/notification-service.json from scripts/grafana-dashboard.ts. */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { DASHBOARD_FILE, dashboardText } from './grafana-dashboard.js';

const path = DASHBOARD_FILE.pathname;
let before = '';
try {
  before = readFileSync(DASHBOARD_FILE, 'utf8');
} catch {
  // first run: the file does not exist yet
}
const after = dashboardText();
if (after === before) {
  console.log(`${path}: already up to date`);
} else {
  mkdirSync(new URL('.', DASHBOARD_FILE), { recursive: true });
  writeFileSync(DASHBOARD_FILE, after);
  console.log(`${path}: written from scripts/grafana-dashboard.ts`);
}
