/* The designer's BPMN editor: bpmn-js modeler, autosave with optimistic locking, problems on the diagram.
   The side panel (panel.js, optional) mounts into #properties-panel through window.pmoflowPanel.mount. */
(function () {
  'use strict';

  var data = JSON.parse(document.getElementById('draft-data').textContent);
  var descriptor = JSON.parse(document.getElementById('pmoflow-descriptor').textContent);
  var context = JSON.parse(document.getElementById('designer-context').textContent);
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var state = { revision: data.revision, files: Object.assign({}, data.files), dirty: false, saving: null,
                conflict: false, problems: data.problems || [], timer: null };

  // ------------------------------------------------------------ phones: the diagram, read only
  // Below 720 px an editor cannot be used (palette, context pad, panel and canvas do not fit): say so and show
  // the draft in bpmn-js's navigated viewer (loaded only here), zoomable and movable, nothing editable.
  if (window.matchMedia('(max-width: 720px)').matches) {
    document.querySelector('.designer-editor').classList.add('is-phone');
    document.getElementById('small-screen').hidden = false;
    var modelerClass = window.BpmnJS, script = document.createElement('script');
    script.src = context.urls.viewer;
    script.onload = function () {
      var Viewer = window.BpmnJS;
      window.BpmnJS = modelerClass;
      var viewer = new Viewer({ container: '#phone-canvas' });
      viewer.importXML(data.bpmn).then(function () {
        viewer.get('canvas').zoom('fit-viewport', 'auto');
        document.body.dataset.designerReady = 'true';
      }).catch(function (err) {
        document.getElementById('phone-canvas').textContent = 'The diagram cannot be shown: ' + err.message;
        document.body.dataset.designerReady = 'error';
      });
    };
    document.body.appendChild(script);
    return;
  }

  // Palette entries besides bpmn-js's own: the tasks people draw most, without the wrench menu.
  var EXTRA_PALETTE = [
    ['bpmn:UserTask', 'user-task', 'User task: work a person does (approve, review, fill in a form)'],
    ['bpmn:ServiceTask', 'service-task', 'Service task: an HTTP call or an external system\'s worker']
  ];
  function PmoflowPalette(palette, create, elementFactory) {
    palette.registerProvider(this);
    this.getPaletteEntries = function () {
      return function (entries) {
        var added = {};
        Object.keys(entries).forEach(function (key) {
          added[key] = entries[key];
          if (key !== 'create.task') { return; }
          EXTRA_PALETTE.forEach(function (item) {
            var start = function (event) { create.start(event, elementFactory.createShape({ type: item[0] })); };
            added['create.' + item[1]] = { group: 'activity', className: 'bpmn-icon-' + item[1], title: item[2],
                                           action: { dragstart: start, click: start } };
          });
        });
        return added;
      };
    };
  }
  PmoflowPalette.$inject = ['palette', 'create', 'elementFactory'];

  // diagram-js names palette entries for screen readers only (aria-label): show the same words on hover.
  function titlePalette() {
    document.querySelectorAll('.djs-palette .entry[aria-label]').forEach(function (entry) {
      entry.title = entry.getAttribute('aria-label');
    });
  }

  var modeler = new BpmnJS({ container: '#canvas', moddleExtensions: { pmoflow: descriptor },
                             additionalModules: [{ __init__: ['pmoflowPalette'],
                                                   pmoflowPalette: ['type', PmoflowPalette] }] });
  var canvas = modeler.get('canvas');
  var overlays = modeler.get('overlays');
  var registry = modeler.get('elementRegistry');
  var commandStack = modeler.get('commandStack');
  var statusEl = document.getElementById('save-status');
  var created = null;                                  // the last shape a command created (reveal)

  function $(id) { return document.getElementById(id); }

  // ------------------------------------------------------------ the view: zoom, fit, overview, reveal
  var PALETTE = 140;                                   // px of canvas the palette covers on the left

  function fit() {
    canvas.zoom('fit-viewport', 'auto');
    // room for the palette on the left: widen the view so the diagram starts PALETTE px from the edge
    var box = canvas.viewbox(), pad = PALETTE * box.width / Math.max(box.outer.width - PALETTE, 1);
    canvas.viewbox({ x: box.x - pad, y: box.y - pad / 4, width: box.width + pad, height: box.height + pad / 4 });
  }

  function zoomBy(step) { modeler.get('zoomScroll').stepZoom(step); }

  function showZoom() { $('zoom-reset').textContent = Math.round(canvas.zoom() * 100) + '%'; }

  $('zoom-in').addEventListener('click', function () { zoomBy(1); });
  $('zoom-out').addEventListener('click', function () { zoomBy(-1); });
  $('zoom-reset').addEventListener('click', function () { canvas.zoom(1, 'auto'); });
  $('zoom-fit').addEventListener('click', fit);

  // The overview: the diagram's own drawing layer shown again, small (an SVG <use>), with the visible part
  // outlined; a click or a drag moves the view there. Redrawn as the diagram or the view changes.
  var SVG = 'http://www.w3.org/2000/svg';
  var minimap = { box: $('minimap'), svg: null, view: null, use: null, frame: 0 };

  function buildMinimap() {
    var svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', 'Overview of the whole diagram');
    minimap.use = document.createElementNS(SVG, 'use');
    minimap.view = document.createElementNS(SVG, 'rect');
    minimap.view.setAttribute('class', 'minimap-view');
    svg.appendChild(minimap.use);
    svg.appendChild(minimap.view);
    minimap.box.appendChild(svg);
    minimap.svg = svg;
    var dragging = false;
    function moveTo(e) {
      var point = svg.createSVGPoint();
      point.x = e.clientX; point.y = e.clientY;
      var at = point.matrixTransform(svg.getScreenCTM().inverse()), box = canvas.viewbox();
      canvas.viewbox({ x: at.x - box.width / 2, y: at.y - box.height / 2, width: box.width, height: box.height });
    }
    svg.addEventListener('pointerdown', function (e) { dragging = true; svg.setPointerCapture(e.pointerId); moveTo(e); });
    svg.addEventListener('pointermove', function (e) { if (dragging) { moveTo(e); } });
    svg.addEventListener('pointerup', function () { dragging = false; });
  }

  function drawMinimap() {
    minimap.frame = 0;
    if (minimap.box.hidden) { return; }
    if (!minimap.svg) { buildMinimap(); }
    var layer = canvas.getActiveLayer();
    if (!layer.id) { layer.id = 'pmo-layer-' + Math.random().toString(36).slice(2); }
    minimap.use.setAttribute('href', '#' + layer.id);
    var diagram = layer.getBBox(), view = canvas.viewbox(), margin = 20;
    var x = Math.min(diagram.x, view.x) - margin, y = Math.min(diagram.y, view.y) - margin;
    var right = Math.max(diagram.x + diagram.width, view.x + view.width) + margin;
    var bottom = Math.max(diagram.y + diagram.height, view.y + view.height) + margin;
    minimap.svg.setAttribute('viewBox', [x, y, right - x, bottom - y].join(' '));
    minimap.view.setAttribute('x', view.x); minimap.view.setAttribute('y', view.y);
    minimap.view.setAttribute('width', view.width); minimap.view.setAttribute('height', view.height);
  }

  function redrawMinimap() {
    if (!minimap.frame) { minimap.frame = window.requestAnimationFrame(drawMinimap); }
  }

  function setMinimap(on) {
    minimap.box.hidden = !on;
    $('minimap-toggle').setAttribute('aria-pressed', String(on));
    try { window.localStorage.setItem('pmoflow.designer.minimap', on ? '1' : ''); } catch (err) { /* private mode */ }
    if (on) { drawMinimap(); }
  }
  $('minimap-toggle').addEventListener('click', function () { setMinimap(minimap.box.hidden); });

  // A new shape near an edge (a pool dropped on the right, a task appended off screen) is brought into view with
  // room for its context pad on the right; one larger than the view makes the view zoom out to hold it.
  function reveal(element) {
    var view = canvas.viewbox(), s = view.scale;
    var box = { x: element.x - (PALETTE / 2) / s, y: element.y - 30 / s,
                width: element.width + (PALETTE / 2 + 130) / s, height: element.height + 60 / s };
    if (box.x >= view.x && box.y >= view.y && box.x + box.width <= view.x + view.width &&
        box.y + box.height <= view.y + view.height) { return; }
    if (box.width <= view.width && box.height <= view.height) {
      var dx = box.x < view.x ? box.x - view.x : Math.max(0, box.x + box.width - (view.x + view.width));
      var dy = box.y < view.y ? box.y - view.y : Math.max(0, box.y + box.height - (view.y + view.height));
      canvas.viewbox({ x: view.x + dx, y: view.y + dy, width: view.width, height: view.height });
      return;
    }
    var ratio = view.width / view.height, width = Math.max(box.width, box.height * ratio);
    canvas.viewbox({ x: box.x, y: box.y, width: width, height: width / ratio });
  }

  function setStatus(text, kind) { statusEl.textContent = text; statusEl.className = kind || 'muted'; }
  function time(iso) { var d = new Date(iso); return d.toISOString().slice(11, 16) + ' UTC'; }

  function post(url, body) {
    return fetch(url, { method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRFToken': csrf, 'Accept': 'application/json' },
      body: JSON.stringify(body) }).then(function (r) {
      return r.json().catch(function () { return { error: { code: 'error', message: 'the server answered ' + r.status } }; })
        .then(function (json) { return { status: r.status, body: json }; });
    });
  }

  // Errors come as {"error": {"code", "message", "details"}}, the API's shape (webui/errors.py).
  function errorMessage(answer) {
    var err = answer.body && answer.body.error;
    return (err && err.message) || ('error ' + answer.status);
  }

  function errorProblems(answer) {
    var err = answer.body && answer.body.error;
    return (err && err.details && err.details.problems) || null;
  }

  // ------------------------------------------------------------ problems on the diagram
  // Problems are what a deployment refuses; advice (a dead end, an unreachable element, a group that
  // does not exist) is shown the same way, in amber, and does not stop publishing.
  function isAdvice(p) { return p.severity === 'warning'; }
  function blocking() { return state.problems.filter(function (p) { return !isAdvice(p); }); }

  function showProblems(problems) {
    state.problems = problems;
    overlays.remove({ type: 'pmo-problem' });
    registry.getAll().forEach(function (el) { canvas.removeMarker(el, 'pmo-problem'); canvas.removeMarker(el, 'pmo-advice'); });
    var list = $('problems');
    list.innerHTML = '';
    var perElement = {};
    problems.forEach(function (p) {
      var li = document.createElement('li');
      var el = p.element_id ? registry.get(p.element_id) : null;
      var where = [p.file, p.line ? 'line ' + p.line : null].filter(Boolean).join(', ');
      var btn = document.createElement(el ? 'button' : 'span');
      btn.className = (el ? 'problem link' : 'problem') + (isAdvice(p) ? ' advice' : '');
      if (el) { btn.type = 'button'; btn.dataset.element = p.element_id; }
      var what = document.createElement('span');
      what.className = 'problem-message';
      what.textContent = p.message;
      var meta = document.createElement('span');
      meta.className = 'problem-where muted';
      var name = el && el.businessObject && el.businessObject.name;
      var label = p.element_id ? (name ? name + ' (' + p.element_id + ')' : p.element_id) : '';
      meta.textContent = (isAdvice(p) ? 'warning · ' : '') + (label ? label + ' · ' : '') + where +
        (p.code ? ' · ' + p.code : '');
      btn.appendChild(what); btn.appendChild(meta);
      if (el) { btn.addEventListener('click', function () { focusElement(p.element_id); }); }
      li.appendChild(btn);
      list.appendChild(li);
      if (el) { (perElement[p.element_id] = perElement[p.element_id] || []).push(p); }
    });
    Object.keys(perElement).forEach(function (id) {
      var el = registry.get(id);
      var advice = perElement[id].every(isAdvice);
      canvas.addMarker(el, 'pmo-problem');
      if (advice) { canvas.addMarker(el, 'pmo-advice'); } else { canvas.removeMarker(el, 'pmo-advice'); }
      var badge = document.createElement('div');
      badge.className = 'pmo-problem-badge' + (advice ? ' advice' : '');
      badge.textContent = perElement[id].length;
      badge.title = perElement[id].map(function (p) { return p.message; }).join('\n');
      badge.dataset.element = id;
      badge.addEventListener('click', function () { focusElement(id); });
      overlays.add(el, 'pmo-problem', { position: el.waypoints ? { top: -10, left: -10 } : { top: -10, right: 10 },
                                        html: badge });
    });
    var stopping = blocking().length;
    $('problem-count').textContent = stopping;
    $('problem-count').className = 'badge ' + (stopping ? 'error' : 'ok');
    $('problem-count').title = (problems.length - stopping) + ' warning(s) besides';
    $('problems-none').hidden = stopping > 0;
  }

  function focusElement(id) {
    var el = registry.get(id);
    if (!el) { return; }
    modeler.get('selection').select(el);
    if (canvas.scrollToElement) { canvas.scrollToElement(el, { top: 100, bottom: 100, left: 100, right: 100 }); }
  }

  // ------------------------------------------------------------ files (DMN, forms)
  function showFiles() {
    var list = $('files');
    list.innerHTML = '';
    var names = Object.keys(state.files).sort();
    if (!names.length) { list.innerHTML = '<li class="muted">None yet.</li>'; }
    names.forEach(function (name) {
      var li = document.createElement('li');
      if (/\.dmn$/.test(name)) {
        var a = document.createElement('a');
        a.href = context.urls.dmn.replace('FILE', encodeURIComponent(name));
        a.textContent = name;
        li.appendChild(a);
        li.appendChild(document.createTextNode(' — decision table'));
      } else {
        li.textContent = name + ' — form';
      }
      list.appendChild(li);
    });
  }

  function blankDmn(id, name) {
    var esc = function (s) { return s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;'); };
    return '<?xml version="1.0" encoding="UTF-8"?>\n' +
      '<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" xmlns:dmndi="https://www.omg.org/spec/DMN/20191111/DMNDI/" ' +
      'xmlns:dc="http://www.omg.org/spec/DMN/20180521/DC/" id="Definitions_' + id + '" name="' + esc(name) + '" namespace="https://pmoflow.dev/decisions">\n' +
      '  <decision id="' + id + '" name="' + esc(name) + '">\n' +
      '    <decisionTable id="' + id + '_table" hitPolicy="FIRST">\n' +
      '      <input id="' + id + '_in1" label="Input"><inputExpression id="' + id + '_in1_expr" typeRef="number"><text>amount</text></inputExpression></input>\n' +
      '      <output id="' + id + '_out1" label="Result" name="result" typeRef="string"/>\n' +
      '      <rule id="' + id + '_rule1"><inputEntry id="' + id + '_r1_i1"><text>-</text></inputEntry>' +
      '<outputEntry id="' + id + '_r1_o1"><text>"default"</text></outputEntry></rule>\n' +
      '    </decisionTable>\n  </decision>\n' +
      '  <dmndi:DMNDI><dmndi:DMNDiagram id="DMNDiagram_' + id + '"><dmndi:DMNShape id="DMNShape_' + id + '" dmnElementRef="' + id + '">' +
      '<dc:Bounds height="80" width="180" x="160" y="100"/></dmndi:DMNShape></dmndi:DMNDiagram></dmndi:DMNDI>\n' +
      '</definitions>\n';
  }

  $('new-dmn').addEventListener('click', function () {
    var id = (window.prompt('Decision id (letters, digits, _):', 'my_decision') || '').trim();
    if (!id) { return; }
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(id)) { window.alert('Use letters, digits and _ only, starting with a letter.'); return; }
    var file = id + '.dmn';
    if (state.files[file]) { window.alert(file + ' exists already.'); return; }
    state.files[file] = blankDmn(id, id.replace(/_/g, ' '));
    save({ files: true }).then(function (ok) {
      if (ok) { window.location = context.urls.dmn.replace('FILE', encodeURIComponent(file)); }
    });
  });

  $('add-file').addEventListener('change', function (e) {
    var files = Array.prototype.slice.call(e.target.files || []);
    var bad = files.filter(function (f) { return !/^[A-Za-z0-9_][A-Za-z0-9_. -]{0,150}\.(dmn|form)$/.test(f.name); });
    if (bad.length) {
      window.alert('Not added: ' + bad.map(function (f) { return f.name; }).join(', ') +
                   '. Only .dmn and .form files, named with letters, digits, - _ and dots.');
      e.target.value = '';
      return;
    }
    Promise.all(files.map(function (f) {
      return f.text().then(function (text) { state.files[f.name] = text; });
    })).then(function () {
      e.target.value = '';
      state.filesChanged = true;
      showFiles();
      return save({ files: true });
    });
  });

  // ------------------------------------------------------------ saving
  function save(options) {
    options = options || {};
    if (state.conflict) { return Promise.resolve(false); }
    if (state.saving) {
      state.again = true;
      return state.saving;
    }
    clearTimeout(state.timer);
    setStatus('Saving…');
    var sentDirty = state.dirty;
    state.dirty = false;
    state.saving = modeler.saveXML({ format: true }).then(function (result) {
      var body = { revision: state.revision, bpmn: result.xml };
      if (options.files || state.filesChanged) { body.files = state.files; }
      return post(context.urls.save, body);
    }).then(function (answer) {
      state.saving = null;
      if (answer.status === 200) {
        state.revision = answer.body.revision;
        state.filesChanged = false;
        showProblems(answer.body.problems || []);
        if (answer.body.name) { $('draft-name').textContent = answer.body.name; }
        setStatus('Saved ' + time(answer.body.updated_at) + ' · ' + blocking().length + ' problem(s)', 'saved');
        document.dispatchEvent(new CustomEvent('pmoflow:saved', { detail: answer.body }));
        if (state.again) { state.again = false; if (state.dirty) { return save(); } }
        return true;
      }
      state.dirty = state.dirty || sentDirty;
      if (answer.status === 409) {
        state.conflict = true;
        $('conflict-message').textContent = errorMessage(answer);
        $('conflict').hidden = false;
        setStatus('Not saved: someone else saved first', 'error');
      } else {
        setStatus('Not saved: ' + errorMessage(answer), 'error');
      }
      return false;
    }).catch(function (err) {
      state.saving = null;
      state.dirty = true;
      setStatus('Not saved: ' + err.message + ' (will retry)', 'error');
      scheduleSave(5000);
      return false;
    });
    return state.saving;
  }

  function scheduleSave(delay) {
    clearTimeout(state.timer);
    state.timer = setTimeout(save, delay);
  }

  modeler.on('commandStack.shape.create.postExecuted', function (e) {
    var shape = e.context && e.context.shape;
    if (shape && !shape.labelTarget && !shape.waypoints && shape.type !== 'bpmn:Lane') { created = shape; }
  });
  modeler.on('canvas.viewbox.changed', function () { showZoom(); redrawMinimap(); });
  modeler.on(['elements.changed', 'root.set'], redrawMinimap);
  modeler.on('palette.changed', function () { setTimeout(titlePalette, 0); });

  modeler.on('commandStack.changed', function () {
    if (created) {
      var shape = created;
      created = null;
      if (registry.get(shape.id)) { reveal(shape); }
    }
    if (state.importing) { return; }
    state.dirty = true;
    setStatus('Unsaved changes…');
    scheduleSave(1500);
  });

  window.addEventListener('beforeunload', function (e) {
    if (state.dirty || state.saving) { e.preventDefault(); e.returnValue = ''; }
  });

  $('save').addEventListener('click', function () { save(); });
  $('undo').addEventListener('click', function () { commandStack.undo(); });
  $('redo').addEventListener('click', function () { commandStack.redo(); });
  document.addEventListener('keydown', function (e) {
    if ((e.ctrlKey || e.metaKey) && e.key === 's') { e.preventDefault(); save(); }
  });

  $('download-mine').addEventListener('click', function () {
    modeler.saveXML({ format: true }).then(function (result) {
      var a = document.createElement('a');
      a.href = URL.createObjectURL(new Blob([result.xml], { type: 'application/xml' }));
      a.download = data.key + '-my-copy.bpmn';
      document.body.appendChild(a); a.click(); a.remove();
    });
  });

  // ------------------------------------------------------------ publishing
  var dialog = $('publish-dialog');
  if ($('publish')) {
    $('publish').addEventListener('click', function () {
      save().then(function () {
        var n = blocking().length, warnings = state.problems.length - n;
        $('publish-problems').hidden = n === 0 && warnings === 0;
        $('publish-problems').textContent = n ? 'This draft has ' + n + ' problem(s); fix them first (see Problems).'
          : (warnings ? warnings + ' warning(s) (see Problems); they do not stop publishing.' : '');
        $('publish-confirm').disabled = n > 0 || state.conflict;
        $('publish-error').hidden = true;
        dialog.showModal();
        $('publish-note').focus();
      });
    });
    $('publish-cancel').addEventListener('click', function () { dialog.close(); });
    $('publish-form').addEventListener('submit', function (e) {
      e.preventDefault();
      $('publish-confirm').disabled = true;
      post(context.urls.publish, { revision: state.revision, note: $('publish-note').value }).then(function (answer) {
        if (answer.status === 200) {
          state.dirty = false;
          window.location = answer.body.url;
          return;
        }
        $('publish-confirm').disabled = false;
        $('publish-error').hidden = false;
        $('publish-error').textContent = errorMessage(answer);
        if (errorProblems(answer)) { showProblems(errorProblems(answer)); }
      });
    });
  }

  // ------------------------------------------------------------ the side panel
  var panelContext = {
    key: data.key,
    groups: context.groups,
    csrfToken: csrf,
    urls: context.urls,
    getFiles: function () { return Object.assign({}, state.files); },
    setFile: function (name, text) {
      if (text === null || text === undefined) { delete state.files[name]; } else { state.files[name] = text; }
      state.filesChanged = true; state.dirty = true; showFiles(); scheduleSave(800);
    },
    // every file of the draft as it is in the editor now: [{name, content}], the diagram first
    files: function () {
      return modeler.saveXML({ format: true }).then(function (r) {
        return [{ name: data.bpmn_file, content: r.xml }].concat(Object.keys(state.files).sort().map(function (n) {
          return { name: n, content: state.files[n] };
        }));
      });
    },
    save: save,
    problems: function () { return state.problems.slice(); }
  };

  function mountPanel(element) {
    if (window.pmoflowPanel && typeof window.pmoflowPanel.mount === 'function') {
      try {
        window.pmoflowPanel.mount(modeler, element || canvas.getRootElement(), panelContext);
      } catch (err) {
        $('properties-panel').textContent = 'The properties panel failed: ' + err.message;
      }
    }
  }
  modeler.on('selection.changed', function (e) { mountPanel(e.newSelection.length === 1 ? e.newSelection[0] : null); });

  // ------------------------------------------------------------ lanes: nothing left on a boundary
  // Dividing a pool into lanes, adding or resizing a lane draws lane boundaries through what is already there.
  // Afterwards, every element of the pool is moved up or down into the lane its centre is in (the lane it now
  // belongs to), clear of the edges, as part of the same command: one undo takes both back.
  var LANE_MARGIN = 12;

  function poolOf(shape) {
    var el = shape;
    while (el && el.type !== 'bpmn:Participant' && el.parent) { el = el.parent; }
    return el;
  }

  function leafLanes(pool) {
    return registry.filter(function (e) {
      return e.type === 'bpmn:Lane' && poolOf(e) === pool &&
        !(e.children || []).some(function (c) { return c.type === 'bpmn:Lane'; });
    });
  }

  function settleInLanes(pool) {
    var lanes = leafLanes(pool), modeling = modeler.get('modeling');
    if (!lanes.length) { return; }
    registry.filter(function (e) {
      return e.parent === pool && !e.waypoints && !e.labelTarget && e.type !== 'bpmn:Lane' &&
        e.type !== 'bpmn:BoundaryEvent' && e.businessObject.$instanceOf('bpmn:FlowNode');
    }).forEach(function (shape) {
      var middle = shape.y + shape.height / 2;
      var lane = lanes.find(function (l) { return l.y <= middle && middle < l.y + l.height; });
      if (!lane) { return; }
      var top = lane.y + LANE_MARGIN, bottom = lane.y + lane.height - LANE_MARGIN;
      var label = shape.label && !shape.label.hidden ? shape.label : null;
      var end = Math.max(shape.y + shape.height, label ? label.y + label.height : 0);
      var dy = 0;
      if (shape.y < top) { dy = top - shape.y; } else if (end > bottom) { dy = bottom - end; }
      if (shape.y + dy < top || end + dy > bottom) {               // too tall for the margins: centre it
        dy = lane.y + lane.height / 2 - middle;
      }
      if (Math.round(dy)) { modeling.moveElements([shape], { x: 0, y: Math.round(dy) }); }
    });
  }

  modeler.on(['commandStack.lane.split.postExecuted', 'commandStack.lane.add.postExecuted',
              'commandStack.lane.resize.postExecuted'], function (e) {
    var pool = poolOf(e.context.shape);
    if (pool && pool.type === 'bpmn:Participant') { settleInLanes(pool); }
  });

  // ------------------------------------------------------------ keep what bpmn-js cannot draw
  // bpmn-js rebuilds each plane from the shapes it drew when saving (BpmnDiOrdering), so the diagram
  // shapes of elements it cannot show (a process no pool references, an edge without its element)
  // would be lost. They are put back after that step: nothing imported is dropped.
  var undrawn = [];
  modeler.on('import.done', function () {
    var drawn = new Set();
    registry.getAll().forEach(function (el) { if (el.di) { drawn.add(el.di); } });
    undrawn = [];
    (modeler.getDefinitions().diagrams || []).forEach(function (diagram) {
      var plane = diagram.plane;
      ((plane && plane.planeElement) || []).forEach(function (di) {
        if (!drawn.has(di)) { undrawn.push({ plane: plane, di: di }); }
      });
    });
  });
  modeler.on('saveXML.start', 1000, function () {
    undrawn.forEach(function (u) {
      var list = u.plane.get('planeElement');
      if (list.indexOf(u.di) < 0) { list.push(u.di); }
    });
  });

  // ------------------------------------------------------------ keep multi-instance collections
  // A multi-instance task names its collection variables in loopDataInputRef / loopDataOutputRef, as
  // SpiffWorkflow reads them: text naming a variable, not the id of an element of the diagram. bpmn-js
  // reads them as references and would drop those it cannot resolve; they are kept as they were.
  function keepVariableReferences(warnings) {
    var moddle = modeler.get('moddle'), kept = 0;
    warnings.forEach(function (w) {
      if (w.element && w.value && /loopData(Input|Output)Ref$/.test(w.property || '')) {
        w.element.set(w.property, moddle.create('bpmn:ItemAwareElement', { id: w.value }));
        kept += 1;
      }
    });
    return kept;                                  // not import warnings: nothing was lost
  }

  // ------------------------------------------------------------ start
  state.importing = true;
  modeler.importXML(data.bpmn).then(function (result) {
    state.importing = false;
    var warnings = (result.warnings || []).length - keepVariableReferences(result.warnings || []);
    fit();
    titlePalette();
    var remembered = '';
    try { remembered = window.localStorage.getItem('pmoflow.designer.minimap') || ''; } catch (err) { /* none */ }
    setMinimap(remembered === '1');
    showZoom();
    showProblems(state.problems);
    showFiles();
    mountPanel(null);
    if (window.location.hash.length > 1) { focusElement(decodeURIComponent(window.location.hash.slice(1))); }
    if (warnings) { setStatus('Opened with ' + warnings + ' import warning(s)', 'muted'); }
    document.body.dataset.designerReady = 'true';
  }).catch(function (err) {
    state.importing = false;
    setStatus('The diagram cannot be shown: ' + err.message, 'error');
    document.body.dataset.designerReady = 'error';
  });

  window.pmoflowEditor = { modeler: modeler, save: save, state: state, showProblems: showProblems, context: panelContext,
                          fit: fit, reveal: reveal };
})();
