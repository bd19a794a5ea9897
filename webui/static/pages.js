// Small behaviours of the server-rendered pages, bound from data attributes. The Content-Security-Policy
// allows no inline script and no event-handler attribute (onclick=, onsubmit=...), so pages mark their
// elements and this file, loaded by base.html, wires them up.
(function () {
  'use strict';

  // <form data-confirm="Discard this draft?">: ask before submitting.
  document.addEventListener('submit', (event) => {
    const form = event.target.closest('form[data-confirm]');
    if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
  }, true);

  document.addEventListener('click', (event) => {
    // <button data-print>: the browser's print dialog (print or save as PDF).
    if (event.target.closest('[data-print]')) { window.print(); return; }
    // <button data-copy="ID">: copy the value of the field ID (a secret shown once).
    const button = event.target.closest('button[data-copy]');
    if (button) copy(button, document.getElementById(button.dataset.copy));
  });

  // A secret shown once is selected when focused, to copy it by hand.
  document.addEventListener('focusin', (event) => {
    if (event.target.matches('textarea.secret')) event.target.select();
  });

  // <form data-navigate="/designer/processes/KEY/versions/0">: changing its select opens that URL with
  // the select's value in place of the trailing 0.
  document.addEventListener('change', (event) => {
    const form = event.target.closest('form[data-navigate]');
    if (form && event.target.matches('select')) {
      window.location = form.dataset.navigate.replace(/\/0$/, '/' + encodeURIComponent(event.target.value));
    }
  });

  // The navigation's menu button (phones; base.html): opens and closes the menu; Escape or a click
  // elsewhere closes it, giving the focus back to the button when it was inside the menu.
  const toggle = document.querySelector('.menu-toggle[aria-controls]');
  if (toggle) {
    const menu = document.getElementById(toggle.getAttribute('aria-controls'));
    const setOpen = (open) => toggle.setAttribute('aria-expanded', open ? 'true' : 'false');
    toggle.addEventListener('click', () => {
      const open = toggle.getAttribute('aria-expanded') !== 'true';
      setOpen(open);
      if (open) { const first = menu.querySelector('a, button'); if (first) first.focus(); }
    });
    document.addEventListener('keydown', (event) => {
      if (event.key !== 'Escape' || toggle.getAttribute('aria-expanded') !== 'true') return;
      setOpen(false);
      toggle.focus();
    });
    document.addEventListener('click', (event) => {
      if (toggle.getAttribute('aria-expanded') === 'true' && !menu.contains(event.target) && !toggle.contains(event.target)) {
        setOpen(false);
      }
    });
  }

  // <a href="TARGET" data-read-url="URL"> (the notifications list): opening a notification marks it read
  // (POST URL with the page's CSRF token) before the browser goes to TARGET. A click that opens a new tab
  // marks it read without waiting; if marking fails, the link is followed all the same.
  document.addEventListener('click', async (event) => {
    const link = event.target.closest('a[data-read-url]');
    if (!link || event.button !== 0) return;
    const newTab = event.ctrlKey || event.metaKey || event.shiftKey;
    const marking = markRead(link.dataset.readUrl);
    if (newTab) return;
    event.preventDefault();
    try { await marking; } catch (e) { /* still go */ }
    window.location.assign(link.href);
  });

  function markRead(url) {
    const token = document.querySelector('meta[name="csrf-token"]');
    const body = new URLSearchParams({ csrf_token: token ? token.content : '' });
    return fetch(url, { method: 'POST', body, keepalive: true, headers: { 'X-Requested-With': 'fetch' } });
  }

  async function copy(button, input) {
    if (!input) return;
    input.select();
    try { await navigator.clipboard.writeText(input.value); } catch (e) { document.execCommand && document.execCommand('copy'); }
    button.textContent = 'Copied';
  }

  // <tbody id="rows" data-refresh="URL"> (the task inbox): tasks arrive and leave without a full reload.
  // Fetch the rows every 15 s and when the tab becomes visible again, and swap them if they changed.
  const rows = document.querySelector('tbody#rows[data-refresh]');
  if (rows) {
    const refresh = async () => {
      // not while the page is hidden, nor while someone picks tasks or moves through them (inbox.js)
      if (document.hidden || rows.querySelector('input:checked') || rows.contains(document.activeElement)) return;
      try {
        const res = await fetch(rows.dataset.refresh, { headers: { 'X-Requested-With': 'fetch' } });
        if (!res.ok) return;
        const html = await res.text();
        if (html.trim() !== rows.innerHTML.trim()) {
          rows.innerHTML = html;
          const count = rows.querySelector('[data-total]');
          if (count) document.getElementById('task-count').textContent = '(' + count.dataset.total + ')';
          // the navigation's open/overdue count, as the server computed it with these rows (_inbox_count.html)
          const next = rows.querySelector('template#inbox-count-next');
          const current = document.getElementById('inbox-count');
          if (next && current) {
            const fresh = next.content.firstElementChild.cloneNode(true);
            current.replaceWith(fresh);
            const dot = document.querySelector('.menu-toggle .dot');
            if (dot) dot.hidden = !fresh.querySelector('.overdue');
          }
          document.dispatchEvent(new CustomEvent('inbox:rows'));
        }
      } catch (e) { /* offline for a moment: try again next time */ }
    };
    setInterval(refresh, 15000);
    document.addEventListener('visibilitychange', refresh);
  }
})();
