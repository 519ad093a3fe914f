// Rooms with members (a page at a time, by prefix), and the chosen room's members and recent messages.
import { getJson, postJson } from './api.js';
import { cell, el, fillRows } from './dom.js';

const $ = (id) => document.getElementById(id);
const PAGE = 20;

export class Rooms {
  constructor(onDisconnect) {
    this.prefix = '';
    this.cursor = undefined;
    this.next = null;
    this.chosen = undefined;
    this.onDisconnect = onDisconnect;
    $('room-search').addEventListener('submit', (e) => {
      e.preventDefault();
      this.prefix = new FormData(e.target).get('prefix').trim();
      this.cursor = undefined;
      void this.refresh();
    });
    $('rooms-next').addEventListener('click', () => {
      this.cursor = this.next ?? undefined;
      void this.refresh();
    });
    $('rooms-first').addEventListener('click', () => {
      this.cursor = undefined;
      void this.refresh();
    });
  }

  async refresh() {
    const page = await getJson('rooms', { prefix: this.prefix, cursor: this.cursor, limit: PAGE });
    this.next = page.next;
    $('rooms-next').disabled = page.next === null;
    $('rooms-first').disabled = this.cursor === undefined;
    fillRows(
      $('rooms'),
      page.rooms.map((r) =>
        el(
          'tr',
          { class: 'clickable', 'data-room': `${r.namespace}/${r.room}`, onclick: () => this.choose(r.namespace, r.room) },
          cell(`/${r.namespace}`, 'mono'),
          cell(r.room, 'mono'),
          cell(String(r.members), 'num'),
        ),
      ),
      this.prefix ? `no room starting with “${this.prefix}”` : 'no room with members',
      3,
    );
    if (this.chosen) await this.showRoom();
  }

  choose(namespace, room) {
    this.chosen = { namespace, room };
    void this.showRoom();
  }

  async showRoom() {
    const { namespace, room } = this.chosen;
    const detail = await getJson(`rooms/${encodeURIComponent(namespace)}/${encodeURIComponent(room)}`);
    $('room').hidden = false;
    $('room-name').textContent = `/${namespace} ${room}`;
    fillRows(
      $('members'),
      detail.members.map((m) =>
        el(
          'tr',
          {},
          cell(m.name),
          cell(m.user ?? '–', 'mono'),
          cell(m.protocol),
          cell(m.node.slice(0, 8), 'mono'),
          el('td', {}, m.user ? el('button', { type: 'button', onclick: () => this.onDisconnect(m.user) }, 'disconnect…') : ''),
        ),
      ),
      'no member',
      5,
    );
    // Newest first.
    $('messages').replaceChildren(...detail.messages.toReversed().map((m) => el('li', {}, el('pre', {}, short(m)))));
    if (detail.messages.length === 0) $('messages').append(el('li', { class: 'muted' }, 'no recent message'));
  }
}

function short(message) {
  const text = JSON.stringify(message);
  return text.length > 500 ? `${text.slice(0, 500)}…` : text;
}

/** The disconnect form: the same code as POST /users/:user/disconnect on the server. */
export function disconnectForm() {
  const form = $('disconnect');
  const result = $('disconnect-result');
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const data = new FormData(form);
    const user = String(data.get('user')).trim();
    const minutes = Number(data.get('block') || 0);
    result.textContent = `disconnecting ${user}…`;
    try {
      const answer = await postJson(`users/${encodeURIComponent(user)}/disconnect`, minutes > 0 ? { block: `${minutes}m` } : {});
      result.textContent = `${user}: ${answer.disconnected} connection(s) closed${minutes > 0 ? `, blocked for ${minutes} min` : ''}`;
      result.dataset.disconnected = String(answer.disconnected);
    } catch (err) {
      result.textContent = `${user}: ${err.message}`;
    }
  });
  return (user) => {
    form.elements.user.value = user;
    form.elements.user.focus();
  };
}
