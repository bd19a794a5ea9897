/* The designer's DMN editor: dmn-js modeler (decision tables: inputs, outputs, rules, hit policy), kept in the
   draft as the BPMN editor keeps the diagram (editor.js): every change is checked by the server's validation
   endpoint as you type (debounced) and saved into the draft shortly after, with optimistic locking and an
   unsaved / saving / saved indicator. dmn-js reads DMN 1.3: a DMN 1.4 or 1.5 file is opened as 1.3; the
   server puts its version, and the boxed expressions the editor cannot edit, back on every save
   (designer/dmn_keep.py); the page lists those read-only. */
(function () {
  'use strict';
  if (window.pmoflowDmnQuiet) { window.pmoflowDmnQuiet.done(); }        // dmn-quiet.js: the bundle has loaded
  var data = JSON.parse(document.getElementById('draft-data').textContent);
  var ctx = JSON.parse(document.getElementById('dmn-context').textContent);
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var CHECK_AFTER = 400, SAVE_AFTER = 1500;                              // ms after the last change
  var state = { revision: data.revision, dirty: false, saving: null, again: false, conflict: false,
                saveTimer: null, checkTimer: null, checked: 0, problems: data.problems || [] };
  var status = document.getElementById('save-status');
  var noDrdButton = { additionalModules: [{ viewDrd: ['value', {}] }] };  // the "Requirements diagram" tab does it
  var dmnJS = new DmnJS({ container: '#dmn-canvas', moddleExtensions: { pmoflow: ctx.descriptor },
                          decisionTable: noDrdButton, literalExpression: noDrdButton, boxedExpression: noDrdButton });

  function $(id) { return document.getElementById(id); }
  function setStatus(text, kind) { status.textContent = text; status.className = kind || 'muted'; }

  function post(url, body) {
    return fetch(url, { method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRFToken': csrf, 'Accept': 'application/json' },
      body: JSON.stringify(body) }).then(function (r) {
      return r.json().catch(function () { return { error: { message: 'the server answered ' + r.status } }; })
        .then(function (json) { return { status: r.status, body: json }; });
    });
  }

  // errors: {"error": {"code", "message", "details"}}, the API's shape (webui/errors.py)
  function errorMessage(answer) {
    return (answer.body && answer.body.error && answer.body.error.message) || ('error ' + answer.status);
  }

  function asDmn13(xml) {
    return xml.replace(/https:\/\/www\.omg\.org\/spec\/DMN\/(?:20211108|20230324)\/(MODEL|DMNDI)\//g,
      function (match, part) { return 'https://www.omg.org/spec/DMN/20191111/' + part + '/'; });
  }

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
      });
      list.appendChild(li);
    });
  }

  // Problems of this file, in the list and on the table's cells (dmn-js marks each cell with its element id).
  function showProblems(problems) {
    state.problems = problems;
    var mine = problems.filter(function (p) { return p.file === ctx.file; });
    var list = $('problems');
    list.innerHTML = '';
    mine.forEach(function (p) {
      var li = document.createElement('li');
      li.textContent = p.message + (p.line ? ' (line ' + p.line + ')' : '');
      li.dataset.element = p.element_id || '';
      list.appendChild(li);
    });
    if (!mine.length) { list.innerHTML = '<li class="ok-text">No problems in this file.</li>'; }
    $('problem-count').textContent = mine.length;
    $('problem-count').className = 'badge ' + (mine.length ? 'error' : 'ok');
    markCells(mine);
  }

  function markCells(mine) {
    var canvas = $('dmn-canvas');
    canvas.querySelectorAll('.pmo-cell-problem').forEach(function (cell) {
      cell.classList.remove('pmo-cell-problem');
      cell.removeAttribute('title');
    });
    mine.forEach(function (p) {
      if (!p.element_id) { return; }
      canvas.querySelectorAll('[data-element-id="' + CSS.escape(p.element_id) + '"]').forEach(function (cell) {
        cell.classList.add('pmo-cell-problem');
        cell.title = p.message;
      });
    });
  }

  function filesWith(xml) {
    var files = Object.assign({}, data.files);
    files[ctx.file] = xml;
    return files;
  }

  // ------------------------------------------------------------ validation as you type
  function check() {
    var ticket = ++state.checked;
    return dmnJS.saveXML({ format: true }).then(function (result) {
      return post(ctx.validate, { bpmn: data.bpmn, files: filesWith(result.xml) });
    }).then(function (answer) {
      if (ticket !== state.checked) { return; }                      // a later change is being checked
      if (answer.status === 200) { showProblems(answer.body.problems || []); }
    }).catch(function () { /* the next change or save checks again */ });
  }

  // ------------------------------------------------------------ saving into the draft
  function save() {
    if (state.conflict) { return Promise.resolve(false); }
    if (state.saving) { state.again = true; return state.saving; }
    clearTimeout(state.saveTimer);
    setStatus('Saving…');
    var sentDirty = state.dirty;
    state.dirty = false;
    var files;
    state.saving = dmnJS.saveXML({ format: true }).then(function (result) {
      files = filesWith(result.xml);
      return post(ctx.save, { revision: state.revision, bpmn: data.bpmn, files: files });
    }).then(function (answer) {
      state.saving = null;
      if (answer.status === 200) {
        state.revision = answer.body.revision;
        data.files = files;
        ++state.checked;                                              // the save's problems are the newest
        showProblems(answer.body.problems || []);
        if (state.dirty) {
          setStatus('Unsaved changes…');
        } else {
          setStatus('Saved ' + answer.body.updated_at.slice(11, 16) + ' UTC', 'saved');
        }
        if (state.again) { state.again = false; if (state.dirty) { return save(); } }
        return true;
      }
      state.dirty = state.dirty || sentDirty;
      setStatus('Not saved: ' + errorMessage(answer), 'error');
      if (answer.status === 409) {
        state.conflict = true;
        $('conflict-message').textContent = errorMessage(answer);
        $('conflict').hidden = false;
      }
      return false;
    }).catch(function (err) {
      state.saving = null;
      state.dirty = true;
      setStatus('Not saved: ' + err.message + ' (will retry)', 'error');
      state.saveTimer = setTimeout(save, 5000);
      return false;
    });
    return state.saving;
  }

  function changed() {
    state.dirty = true;
    setStatus('Unsaved changes…');
    clearTimeout(state.checkTimer);
    state.checkTimer = setTimeout(check, CHECK_AFTER);
    clearTimeout(state.saveTimer);
    state.saveTimer = setTimeout(save, SAVE_AFTER);
  }

  // Each view (requirements diagram, each table) has its own viewer and command stack: watch each once.
  var watched = [];
  function watchActiveViewer() {
    var viewer = dmnJS.getActiveViewer();
    if (!viewer || watched.indexOf(viewer) >= 0) { return; }
    watched.push(viewer);
    viewer.on('commandStack.changed', function (e) {
      if (e && e.trigger === 'clear') { return; }
      changed();
    });
    viewer.on('elements.changed', function () { setTimeout(function () { markCells(mineOnly()); }, 0); });
  }
  function mineOnly() { return state.problems.filter(function (p) { return p.file === ctx.file; }); }

  $('save').addEventListener('click', function () { save(); });
  document.addEventListener('keydown', function (e) {
    if ((e.ctrlKey || e.metaKey) && e.key === 's') { e.preventDefault(); save(); }
  });
  window.addEventListener('beforeunload', function (e) {
    if (state.dirty || state.saving) { e.preventDefault(); e.returnValue = ''; }
  });

  dmnJS.on('views.changed', function () {
    showViews();
    watchActiveViewer();
    setTimeout(function () { markCells(mineOnly()); }, 0);
  });
  dmnJS.importXML(asDmn13(data.files[ctx.file])).then(function () {
    var table = dmnJS.getViews().find(function (v) { return v.type === 'decisionTable'; });
    return table ? dmnJS.open(table) : null;
  }).then(function () {
    showViews();
    watchActiveViewer();
    showUsedBy();
    showProblems(state.problems);
    document.body.dataset.designerReady = 'true';
  }).catch(function (err) {
    setStatus('The file cannot be shown: ' + err.message, 'error');
    document.body.dataset.designerReady = 'error';
  });
  window.pmoflowDmn = { dmnJS: dmnJS, save: save, check: check, state: state };
})();
