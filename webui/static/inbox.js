// The inbox's keyboard and selection (tasklist/inbox.html). The page works without it: checkboxes post the
// bulk form, links open tasks. With it: j/k move between tasks, o or Enter opens, x selects, a/r approve or
// reject a task whose form is only a decision (after a confirmation dialog), ? shows the shortcuts.
(function () {
  'use strict';

  const tbody = document.querySelector('tbody#rows');
  if (!tbody) return;
  const status = document.getElementById('inbox-status');
  const help = document.getElementById('help-dialog');
  const decide = document.getElementById('decide-dialog');
  const count = document.getElementById('selected-count');
  const pickAll = document.querySelector('[data-pick-all]');
  const countText = count ? count.textContent : '';
  let current = -1;

  const rows = () => Array.from(tbody.querySelectorAll('tr[data-task]'));
  const link = (row) => row.querySelector('a.task');
  const say = (text) => { if (status) { status.textContent = ''; window.setTimeout(() => { status.textContent = text; }, 30); } };

  function focusRow(index) {
    const all = rows();
    if (!all.length) return;
    current = Math.max(0, Math.min(index, all.length - 1));
    all.forEach((r, i) => r.classList.toggle('focused', i === current));
    const a = link(all[current]);
    if (a) { a.focus(); a.scrollIntoView({ block: 'nearest' }); }
  }

  function focusedRow() {
    const all = rows();
    const inside = document.activeElement && document.activeElement.closest && document.activeElement.closest('tr[data-task]');
    if (inside) { current = all.indexOf(inside); return inside; }
    return current >= 0 ? all[current] : null;
  }

  function updateCount() {
    if (!count) return;
    const boxes = tbody.querySelectorAll('input[name=task]');
    const picked = tbody.querySelectorAll('input[name=task]:checked').length;
    count.textContent = picked ? `${picked} selected` : countText;
    if (pickAll) {
      pickAll.checked = picked > 0 && picked === boxes.length;
      pickAll.indeterminate = picked > 0 && picked < boxes.length;
    }
  }

  if (pickAll) {
    pickAll.hidden = false;
    pickAll.addEventListener('change', () => {
      tbody.querySelectorAll('input[name=task]').forEach((box) => { box.checked = pickAll.checked; });
      updateCount();
    });
  }
  tbody.addEventListener('change', (event) => { if (event.target.matches('input[name=task]')) updateCount(); });
  tbody.addEventListener('focusin', (event) => {
    const row = event.target.closest('tr[data-task]');
    if (!row) return;
    current = rows().indexOf(row);
    rows().forEach((r) => r.classList.toggle('focused', r === row));
  });
  // pages.js swaps the rows when tasks arrive or leave: keep the count right
  document.addEventListener('inbox:rows', () => { current = -1; updateCount(); });

  // the person picker of "Reassign…": say when the chosen person is away
  const to = document.getElementById('bulk-to');
  const toHint = document.getElementById('bulk-to-hint');
  if (to && toHint) {
    const plain = toHint.textContent;
    to.addEventListener('change', () => {
      const away = to.selectedOptions[0] && to.selectedOptions[0].dataset.away;
      toHint.textContent = away || plain;
      toHint.classList.toggle('warning', Boolean(away));
    });
  }

  function openDecision(row, value) {
    if (!decide || !row) return;
    if (!row.dataset.decisionKey) {
      say('This task needs its form: press o to open it.');
      return;
    }
    const approve = value === 'approve';
    const form = document.getElementById('decide-form');
    form.action = link(row).getAttribute('href');
    const hidden = document.getElementById('decide-value');
    hidden.name = row.dataset.decisionKey;
    hidden.value = value;
    document.getElementById('decide-title').textContent = approve ? 'Approve this task?' : 'Reject this task?';
    document.getElementById('decide-what').textContent = row.dataset.name;
    const field = document.getElementById('decide-comment-field');
    const comment = document.getElementById('decide-comment');
    comment.value = '';
    if (row.dataset.commentKey) {
      field.hidden = false;
      comment.name = row.dataset.commentKey;
      document.getElementById('decide-comment-label').textContent = row.dataset.commentLabel || 'Comment';
      document.getElementById('decide-comment-hint').textContent = row.dataset.commentHint || '';
    } else {
      field.hidden = true;
      comment.removeAttribute('name');
    }
    const confirm = document.getElementById('decide-confirm');
    confirm.textContent = approve ? 'Approve' : 'Reject';
    confirm.className = approve ? 'approve' : 'reject';
    decide.returnFocus = link(row);
    decide.showModal();
    (row.dataset.commentKey && !approve ? comment : confirm).focus();
  }

  function openHelp(opener) {
    if (!help || help.open) return;
    help.returnFocus = opener || document.activeElement;
    help.showModal();
    help.querySelector('[data-dialog-close]').focus();
  }

  document.querySelectorAll('[data-help-open]').forEach((b) => b.addEventListener('click', () => openHelp(b)));
  document.querySelectorAll('dialog').forEach((dialog) => {
    dialog.addEventListener('close', () => { if (dialog.returnFocus) dialog.returnFocus.focus(); });
    dialog.querySelectorAll('[data-dialog-close]').forEach((b) => b.addEventListener('click', () => dialog.close()));
  });

  document.addEventListener('keydown', (event) => {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (document.querySelector('dialog[open]')) return; // the dialog has the keyboard (Esc closes it)
    const target = event.target;
    if (target.closest('input:not([type=checkbox]), textarea, select, [contenteditable=""], [contenteditable=true]')) return;
    const key = event.key;
    if (key === '?') { event.preventDefault(); openHelp(); return; }
    if (key === 'j' || key === 'k') {
      event.preventDefault();
      const row = focusedRow();
      focusRow(row ? current + (key === 'j' ? 1 : -1) : 0);
      return;
    }
    const row = focusedRow();
    if (!row) return;
    if (key === 'o' || (key === 'Enter' && target === row)) { event.preventDefault(); window.location = link(row).href; return; }
    if (key === 'x') {
      event.preventDefault();
      const box = row.querySelector('input[name=task]');
      box.checked = !box.checked;
      updateCount();
      say(box.checked ? 'Selected' : 'Unselected');
      return;
    }
    if (key === 'a' || key === 'r') { event.preventDefault(); openDecision(row, key === 'a' ? 'approve' : 'reject'); }
  });

  updateCount();
  tbody.dataset.keys = 'on'; // the shortcuts are live (tests wait for it)
})();
