// Person pickers (delegate / reassign on the task page, the out-of-office substitute): when the name typed
// or chosen is someone away today, say so next to the field, with who receives the task instead.
// Markup: templates/_away.html (a hint <p data-away-for="INPUT"> and a list <li data-user="NAME">).
(function () {
  'use strict';
  document.querySelectorAll('[data-away-for]').forEach((hint) => {
    const input = document.getElementById(hint.dataset.awayFor);
    const list = document.querySelector(`[data-away-list="${hint.dataset.awayFor}"]`);
    if (!input || !list) return;
    const update = () => {
      const name = input.value.trim();
      const line = Array.from(list.querySelectorAll('li[data-user]')).find((li) => li.dataset.user === name);
      hint.textContent = line ? line.textContent : '';
      hint.classList.toggle('warning', Boolean(line));
    };
    input.addEventListener('input', update);
    input.addEventListener('change', update);
    update();
  });
})();
