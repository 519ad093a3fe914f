// Small DOM helpers: text only (textContent), never HTML, so no room, name or message can inject markup.

export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === 'class') node.className = value;
    else if (key.startsWith('data-')) node.setAttribute(key, value);
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node[key] = value;
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

/** Replaces a table body's rows; `empty` is shown in one cell when there are none. */
export function fillRows(table, rows, empty, columns) {
  const body = table.tBodies[0];
  body.replaceChildren(
    ...(rows.length > 0 ? rows : [el('tr', {}, el('td', { class: 'muted', colSpan: columns }, empty))]),
  );
}

export const cell = (text, cls = '') => el('td', cls ? { class: cls } : {}, text);

export function bytes(n) {
  if (!Number.isFinite(n) || n <= 0) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export function ago(ms) {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  return s < 2 ? 'now' : `${s} s ago`;
}

export const rate = (n) => (n >= 100 ? Math.round(n).toString() : (Math.round(n * 10) / 10).toString());
