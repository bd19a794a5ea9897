/* The designer's DMN editor: dmn-js modeler (decision tables: inputs, outputs, rules, hit policy),
   saved into the draft with optimistic locking. */
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('draft-data').textContent);
  var ctx = JSON.parse(document.getElementById('dmn-context').textContent);
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var revision = data.revision;
  var status = document.getElementById('save-status');
  var dmnJS = new DmnJS({ container: '#dmn-canvas', moddleExtensions: { pmoflow: ctx.descriptor } });

  function $(id) { return document.getElementById(id); }

  function showViews() {
    var nav = $('dmn-views');
    nav.innerHTML = '';
    var active = dmnJS.getActiveView();
    dmnJS.getViews().forEach(function (view) {
      var b = document.createElement('button');
      b.type = 'button';
      b.textContent = (view.type === 'drd' ? 'Requirements diagram' : (view.element.name || view.element.id) +
                       (view.type === 'decisionTable' ? ' (table)' : ''));
      if (active && active.element === view.element) { b.setAttribute('aria-current', 'true'); }
      b.addEventListener('click', function () { dmnJS.open(view).then(showViews); });
      nav.appendChild(b);
    });
  }

  function showUsedBy() {
    var list = $('used-by');
    list.innerHTML = '';
    var any = false;
    (dmnJS.getDefinitions().drgElement || []).forEach(function (el) {
      if (el.$type !== 'dmn:Decision') { return; }
      var users = ctx.used_by[el.id] || [];
      var li = document.createElement('li');
      li.innerHTML = '<strong></strong> <code class="muted"></code>: ';
      li.querySelector('strong').textContent = el.name || el.id;
      li.querySelector('code').textContent = el.id;
      if (!users.length) { li.appendChild(document.createTextNode('no business rule task of this process uses it yet')); }
      users.forEach(function (u, i) {
        var a = document.createElement('a');
        a.href = ctx.editor + '#' + encodeURIComponent(u.id);
        a.textContent = (u.name || u.id) + ' (' + u.id + ')';
        if (i) { li.appendChild(document.createTextNode(', ')); }
        li.appendChild(a);
        any = true;
      });
      list.appendChild(li);
    });
    return any;
  }

  function showProblems(problems) {
    var mine = problems.filter(function (p) { return p.file === ctx.file; });
    var list = $('problems');
    list.innerHTML = '';
    mine.forEach(function (p) {
      var li = document.createElement('li');
      li.textContent = p.message + (p.element_id ? ' [' + p.element_id + ']' : '') + (p.line ? ' (line ' + p.line + ')' : '');
      list.appendChild(li);
    });
    if (!mine.length) { list.innerHTML = '<li class="ok-text">No problems in this file.</li>'; }
    $('problem-count').textContent = mine.length;
    $('problem-count').className = 'badge ' + (mine.length ? 'error' : 'ok');
  }

  function save() {
    status.textContent = 'Saving…';
    return dmnJS.saveXML({ format: true }).then(function (result) {
      var files = Object.assign({}, data.files);
      files[ctx.file] = result.xml;
      return fetch(ctx.save, { method: 'POST', credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', 'X-CSRFToken': csrf },
        body: JSON.stringify({ revision: revision, bpmn: data.bpmn, files: files }) })
        .then(function (r) { return r.json().then(function (b) { return { status: r.status, body: b }; }); })
        .then(function (answer) {
          if (answer.status === 200) {
            revision = answer.body.revision;
            data.files = files;
            status.textContent = 'Saved ' + answer.body.updated_at.slice(11, 16) + ' UTC';
            status.className = 'saved';
            showProblems(answer.body.problems || []);
            return true;
          }
          // errors: {"error": {"code", "message", "details"}}, the API's shape (webui/errors.py)
          var message = (answer.body.error && answer.body.error.message) || answer.status;
          status.textContent = 'Not saved: ' + message;
          status.className = 'error';
          if (answer.status === 409) { $('conflict-message').textContent = message; $('conflict').hidden = false; }
          return false;
        });
    });
  }
  $('save').addEventListener('click', save);
  document.addEventListener('keydown', function (e) {
    if ((e.ctrlKey || e.metaKey) && e.key === 's') { e.preventDefault(); save(); }
  });

  dmnJS.on('views.changed', showViews);
  dmnJS.importXML(data.files[ctx.file]).then(function () {
    var table = dmnJS.getViews().find(function (v) { return v.type === 'decisionTable'; });
    return table ? dmnJS.open(table) : null;
  }).then(function () {
    showViews();
    showUsedBy();
    showProblems(data.problems || []);
    document.body.dataset.designerReady = 'true';
  }).catch(function (err) {
    status.textContent = 'The file cannot be shown: ' + err.message;
    status.className = 'error';
    document.body.dataset.designerReady = 'error';
  });
  window.pmoflowDmn = { dmnJS: dmnJS, save: save };
})();
