/* pmoflow designer: the properties panel, the condition builder and the dry run.
 *
 * Plain modern JavaScript, no build step. The editor page calls
 *
 *   window.pmoflowPanel.mount(modeler, asideElement, context)
 *
 * with a bpmn-js Modeler created with the `pmoflow` moddle descriptor (designer/pmoflow.json).
 * The first call mounts (given a diagram element instead of the aside, it uses
 * #properties-panel and shows that element); the panel then follows the selection itself,
 * and later calls for the same modeler change nothing. The context:
 *
 *   csrfToken    the page's CSRF token (sent as X-CSRFToken)
 *   key          the draft's process key (or processKey)
 *   getFiles     () -> {name: text}: the draft's other files (.form, .dmn); or `files`, that map
 *   setFile      (name, text|null) -> void: store a file in the draft (null removes it); without
 *                it the panel changes the `files` map itself
 *   files        or a function () -> Promise<[{name, content}]>: every file, the diagram first
 *                (what a dry run sends); without it the panel saves the diagram itself
 *   onChange     optional () -> void: the draft changed outside the diagram (a form file)
 *   groups       optional [name]; else urls.groups (GET -> [name] or {groups}), else urls.panelOptions
 *   calendars    optional [name] of business calendars; else urls.panelOptions (GET -> {groups, calendars})
 *   decisions    optional [{key, name}] besides the draft's .dmn files: or urls.decisions (GET)
 *   urls         {conditionsBuild, conditionsParse, dryRun, panelOptions, dmn, formViewer, formViewerCss};
 *                the panel's own endpoints have defaults (designer/web/panel.py)
 *
 * Everything it writes is standard BPMN 2.0 plus `pmoflow:` extension elements that the
 * engine reads (engine/spiff/model/parsing.py and engine/spiff/extensions/: approval, sla, connector); the
 * condition builder and the dry run are server endpoints (designer/conditions.py, dryrun.py).
 * It keeps clear of the canvas, so the bpmn.io watermark stays visible.
 */
(function () {
  'use strict';

  const FIELD_TYPES = [
    ['textfield', 'Text'], ['textarea', 'Long text'], ['number', 'Number'], ['select', 'Drop-down'],
    ['radio', 'Radio buttons'], ['checkbox', 'Checkbox'], ['date', 'Date'],
  ];
  const OPERATORS = [
    ['==', 'is'], ['!=', 'is not'], ['<', 'less than'], ['<=', 'at most'], ['>', 'more than'], ['>=', 'at least'],
    ['in', 'is one of'], ['not in', 'is none of'], ['contains', 'contains'], ['not contains', 'does not contain'],
    ['is empty', 'is empty'], ['is not empty', 'is not empty'],
  ];
  const NO_VALUE = ['is empty', 'is not empty'];
  const LIST_OPS = ['in', 'not in'];
  const UNITS = [['M', 'minutes'], ['H', 'hours'], ['D', 'days'], ['W', 'weeks']];
  const APPROVAL_RULES = [
    ['', 'Single person (the lane\'s group)'], ['all', 'Parallel: all must approve'],
    ['any', 'Parallel: any one approves'], ['count', 'N of M approve'], ['percent', 'A percentage approves'],
  ];
  const TIMER_KINDS = [['', 'Automatic'], ['reminder', 'Reminder'], ['escalation', 'Escalation'],
    ['outcome', 'Default outcome']];
  const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

  // ------------------------------------------------------------------ small DOM helpers

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'text') el.textContent = v;
      else if (k === 'value') el.value = v;
      else if (k === 'checked') el.checked = !!v;
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else el.setAttribute(k, v === true ? '' : v);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  // What each field is for, in a sentence, for fields whose section gives no help of its own. Shown under the
  // field, read out with it (aria-describedby) and on hovering its label.
  const FIELD_HELP = {
    'Name': 'What people see on the diagram, in their inbox and in the request\'s history.',
    'Process name': 'The name requesters see in the catalogue of new requests.',
    'Field type': 'What the person fills in: text, a number, a choice, a date...',
    'Label': 'The question as the person reads it on the form.',
    'Key (variable name)': 'The variable the answer is stored in; conditions and later steps use this name.',
    'Help text': 'A hint shown under the field on the form.',
    'Options (one per line: "Label" or "Label = value")': 'The choices offered, one per line.',
    'Min': 'The smallest number accepted (empty: no limit).',
    'Max': 'The largest number accepted (empty: no limit).',
    'Pattern': 'Who must approve: one person of the lane\'s group, or several people in parallel.',
    'Approvers: a group': 'Every member of this group gets the approval.',
    'or an expression giving user names': 'A Python expression over the request\'s variables giving a list of user names.',
    'How many (N)': 'How many approvals are needed.',
    'Percentage': 'The share of approvers who must approve.',
    'Priority (0-100, or an expression)': 'Higher comes first in the inbox; 50 when empty.',
    'Due within': 'How long the task may take before it is overdue.',
    'Unit': 'Minutes, hours, days or weeks.',
    'Counted on': 'Calendar time, or the working hours and holidays of a business calendar.',
    'At risk after (% of the time)': 'When the task is shown as at risk, as a share of the time it may take.',
    'Default branch (taken when no condition holds)': 'The way out when none of the conditions holds.',
    'The branch is taken when': 'Whether all of the conditions below must hold, or any one of them.',
    'Condition (Python expression)': 'An expression over the request\'s variables that is true or false.',
    'Decision table': 'The decision table this step evaluates; its outputs become variables.',
    'Method': 'The HTTP method of the call.',
    'URL ({variable} is filled in)': 'The address called; {name} is replaced by the variable\'s value.',
    'Headers (one per line; "Name: secret NAME" reads PMOFLOW_CONNECTOR_SECRET_NAME)': 'Sent with the call; secrets are read on the server, never stored in the diagram.',
    'Body (a Python expression, sent as JSON)': 'What is sent, built from the request\'s variables.',
    'Outputs (variable = expression over response)': 'Which parts of the answer become variables.',
    'Keep the whole response in': 'A variable for the whole answer (empty: not kept).',
    'Timeout (s)': 'How long to wait for an answer.',
    'Retries': 'How often a failed call is tried again before an incident is raised.',
    'When': 'After a duration, at a date and time, repeating, or as an expression.',
    'Every / after': 'The duration, or the interval of a repeating timer.',
    'Date and time (UTC)': 'The moment the timer fires, in UTC.',
    'Expression': 'A Python expression giving the ISO duration or date (for example "PT8H").',
    'Sample variables (JSON)': 'The request\'s data the dry run starts with, for example {"amount": 5000}.',
    'Data (JSON)': 'What the task\'s form would submit.',
    'Kind': 'An embedded sub-process runs in line; an event sub-process starts when its event happens.',
    'Runs': 'Once, once per item of a list (in parallel or one after another), or in a loop.',
    'How many': 'One instance per item of a list, or a fixed number.',
    'List variable (one instance per item)': 'The variable holding the list.',
    'Number of instances (a number or an expression)': 'How many instances run.',
    'Collect the results into the list': 'A variable that receives the results of every instance.',
    'from each instance\'s variable': 'The variable each instance\'s result is read from.',
    'Stop early when (condition, optional)': 'When this holds, the remaining instances are cancelled.',
    'Loop condition': 'The step repeats while this holds.',
    'At most (times)': 'A limit on the repetitions.',
    'The work': 'Who does it: a person, an HTTP call, an external worker or a script.',
    'Process': 'The process this step starts and waits for.',
    'Which version': 'The latest version when the step runs, or a fixed one.',
    'Version': 'The fixed version called.',
    'Candidate groups': 'Groups whose members may take the task (comma-separated; the lane\'s group when empty).',
    'Candidate users': 'People who may take the task (comma-separated user names).',
    'Assignee': 'The person the task goes to directly (a user name or an expression).',
    'Group': 'The group this lane stands for.',
    'Owner (user name)': 'Who answers for this process; the New request page names them (empty: whoever published it).',
    'Post to chat channels': 'One line per channel: "pmo-decisions: decided, sla_breached". Events: started, decided, approved, '
      + 'rejected, cancelled, failed, completed, sla_breached, escalated. Channels are named by the administrator.',
    'Ending here, the request is': 'What the requester, the lists and the messages say the request came to when the process ends here.',
  };

  const END_OUTCOMES = [['', 'Read from the decision and the name'], ['approved', 'Approved'],
    ['rejected', 'Rejected'], ['cancelled', 'Cancelled'], ['failed', 'Failed'], ['completed', 'Completed (no decision)']];

  let uid = 0;
  function field(label, control, help) {
    const id = control.id || `pp-${++uid}`;
    control.id = id;
    const text = help || FIELD_HELP[label] || null;
    const note = text ? h('p', { class: 'pp-help', id: `${id}-help`, text }) : null;
    if (note) control.setAttribute('aria-describedby', note.id);
    return h('div', { class: 'pp-field' }, h('label', { for: id, text: label, title: text }), control, note);
  }

  function select(options, value, attrs) {
    const el = h('select', attrs || {});
    for (const [v, label] of options) el.append(h('option', { value: v, text: label }));
    el.value = value === undefined || value === null ? '' : value;
    return el;
  }

  function section(title, ...children) {
    return h('section', { class: 'pp-section' }, h('h3', { text: title }), ...children);
  }

  // "bpmn:UserTask" -> "User task", "bpmn:ExclusiveGateway" -> "Exclusive gateway"
  const TYPE_NAMES = { 'bpmn:Participant': 'Pool', 'bpmn:Collaboration': 'Process', 'bpmn:SequenceFlow': 'Flow',
    'bpmn:SubProcess': 'Sub-process', 'bpmn:CallActivity': 'Call of another process',
    'bpmn:BusinessRuleTask': 'Decision task' };
  function typeName(type) {
    if (TYPE_NAMES[type]) return TYPE_NAMES[type];
    const words = String(type || '').replace(/^[a-z]+:/, '').replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
    return words.charAt(0).toUpperCase() + words.slice(1);
  }

  /** "Wed 2026-01-14 16:00 UTC" for an ISO instant with any offset. */
  function utcTime(iso) {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return String(iso);
    const day = d.toLocaleDateString('en-GB', { weekday: 'short', timeZone: 'UTC' });
    return `${day} ${d.toISOString().replace('T', ' ').slice(0, 16)} UTC`;
  }

  function slug(text) {
    const s = String(text || '').normalize('NFKD').replace(/[^\w\s]/g, '').trim().toLowerCase()
      .replace(/\s+/g, '_').replace(/^[^a-z]+/, '');
    return s.slice(0, 40) || 'field';
  }

  function isoDuration(amount, unit) {
    const n = Math.max(0, Number(amount) || 0);
    if (unit === 'H' || unit === 'M') return `PT${n}${unit}`;
    return `P${n}${unit}`;
  }

  function readDuration(text) {
    const m = /^P(?:(\d+)([DW]))?(?:T(?:(\d+)([HM]))?)?$/.exec(String(text || '').trim());
    if (!m || (!m[1] && !m[3]) || (m[1] && m[3])) return null;
    return m[1] ? { amount: Number(m[1]), unit: m[2] } : { amount: Number(m[3]), unit: m[4] };
  }

  /** How the engine tells a boundary timer's purpose (engine/spiff/runtime/run.py `timer_kind`): the declared
   * pmoflow:timerKind, else a non-interrupting timer reminds and an interrupting one escalates. */
  function timerKindOf(bo) {
    return bo.get('pmoflow:timerKind') || (bo.cancelActivity === false ? 'reminder' : 'escalation');
  }

  /** A timer duration the SLA field can edit: a (quoted) ISO duration, or `var("name", "P2D")` (an instance
   * variable with a default, as the shipped workflows write it). Gives {duration, variable, body(duration)}
   * or null for anything else (a date, a cycle, another expression). */
  function editableDuration(text) {
    const t = String(text || '').trim();
    const plain = unquote(t) ?? (/^P/.test(t) ? t : null);
    if (plain !== null && readDuration(plain)) return { duration: plain, variable: null, body: (d) => JSON.stringify(d) };
    const m = /^var\(\s*(["'])(\w+)\1\s*,\s*(["'])(P[^"']*)\3\s*\)$/.exec(t);
    if (m && readDuration(m[4])) {
      return { duration: m[4], variable: m[2], body: (d) => `var(${JSON.stringify(m[2])}, ${JSON.stringify(d)})` };
    }
    return null;
  }

  function unquote(text) {
    const t = String(text || '').trim();
    if (/^"[^"\\]*"$/.test(t) || /^'[^'\\]*'$/.test(t)) return t.slice(1, -1);
    return null;
  }

  function valueText(value) {
    if (value === null) return 'null';
    if (typeof value === 'string' && (/^-?\d+(\.\d+)?$/.test(value) || ['true', 'false', 'null'].includes(value)
        || value.includes(','))) return JSON.stringify(value);
    return String(value);
  }

  function readValue(text) {
    const t = String(text).trim();
    if (/^".*"$/.test(t)) return t.slice(1, -1);
    if (/^-?\d+(\.\d+)?$/.test(t)) return Number(t);
    if (t === 'true' || t === 'false') return t === 'true';
    if (t === 'null') return null;
    return t;
  }

  function splitList(text) {
    const items = [];
    const re = /\s*("(?:[^"\\]|\\.)*"|[^,]+)\s*(?:,|$)/g;
    let m;
    while ((m = re.exec(text)) && m[0]) items.push(readValue(m[1]));
    return items;
  }

  // ------------------------------------------------------------------ the panel

  const SECTIONS = [];      // (element) => void, called with the panel as `this` after the name field

  class Panel {
    constructor(modeler, aside, context) {
      this.modeler = modeler;
      this.aside = aside;
      this.ctx = Object.assign({ urls: {}, files: {} }, context || {});
      this.ctx.urls = Object.assign({
        conditionsBuild: '/designer/conditions/build', conditionsParse: '/designer/conditions/parse',
        dryRun: '/designer/dry-run', panelOptions: '/designer/panel/options', formViewer: '/static/vendor/form-js/form-viewer.umd.js',
        formViewerCss: '/static/vendor/form-js/form-js.css',
      }, this.ctx.urls || {});
      this.localFiles = (this.ctx.files && typeof this.ctx.files === 'object') ? this.ctx.files : {};
      this.modeling = modeler.get('modeling');
      this.moddle = modeler.get('moddle');
      this.bpmnFactory = modeler.get('bpmnFactory');
      this.canvas = modeler.get('canvas');
      this.registry = modeler.get('elementRegistry');
      this.eventBus = modeler.get('eventBus');
      this.current = null;
      this.writing = 0;
      this.groups = Array.isArray(this.ctx.groups) ? this.ctx.groups.slice() : [];
      this.calendars = Array.isArray(this.ctx.calendars) ? this.ctx.calendars.slice() : ['default'];
      this.decisions = Array.isArray(this.ctx.decisions) ? this.ctx.decisions.slice() : [];
      this.dry = null;
      this.marked = [];
      this.build();
      this.loadLists();
      this.eventBus.on('selection.changed', (e) => this.show(e.newSelection.length === 1 ? e.newSelection[0] : null));
      this.eventBus.on('commandStack.changed', () => {
        if (this.dry) this.dryStale();
        if (!this.writing) this.show(this.current, true);
      });
      this.eventBus.on('import.done', () => { this.clearMarkers(); this.show(null); });
      this.show(null);
    }

    // ---------------------------------------------------------------- frame

    build() {
      this.aside.classList.add('pmoflow-panel');
      this.aside.textContent = '';
      this.tabProps = h('button', { type: 'button', class: 'pp-tab', role: 'tab', 'aria-selected': 'true',
        'aria-controls': 'pp-properties', onclick: () => this.tab('props'), text: 'Properties' });
      this.tabDry = h('button', { type: 'button', class: 'pp-tab', role: 'tab', 'aria-selected': 'false',
        'aria-controls': 'pp-dry-run', id: 'dry-run-tab', onclick: () => this.tab('dry'), text: 'Dry run' });
      this.propsBox = h('div', { class: 'pp-body', id: 'pp-properties', role: 'tabpanel' });
      this.dryBox = h('div', { class: 'pp-body', id: 'pp-dry-run', role: 'tabpanel', hidden: true });
      this.aside.append(h('div', { class: 'pp-tabs', role: 'tablist' }, this.tabProps, this.tabDry),
        this.propsBox, this.dryBox);
      this.renderDry();
    }

    tab(which) {
      const dry = which === 'dry';
      if (dry && this.dryVars.value.trim() === '{}') this.dryVars.value = this.sampleVariables();
      this.tabProps.setAttribute('aria-selected', String(!dry));
      this.tabDry.setAttribute('aria-selected', String(dry));
      this.propsBox.hidden = dry;
      this.dryBox.hidden = !dry;
    }

    async loadLists() {
      const urls = this.ctx.urls;
      const get = async (url, key) => {
        try {
          const r = await fetch(url, { headers: { Accept: 'application/json' }, credentials: 'same-origin' });
          if (!r.ok) return [];
          const data = await r.json();
          return Array.isArray(data) ? data : (data[key] || data.items || []);
        } catch (err) { return []; }
      };
      if (!this.ctx.groups && urls.groups) {
        this.groups = (await get(urls.groups, 'groups')).map((g) => (typeof g === 'string' ? g : g.name));
      }
      const options = await (async () => {
        try {
          const r = await fetch(urls.panelOptions, { headers: { Accept: 'application/json' }, credentials: 'same-origin' });
          return r.ok ? r.json() : {};
        } catch (err) { return {}; }
      })();
      if (!this.ctx.groups && !urls.groups && Array.isArray(options.groups)) this.groups = options.groups;
      if (Array.isArray(options.calendars)) this.calendars = options.calendars;
      if (Array.isArray(options.channels)) this.channels = options.channels;
      if (typeof options.default_group === 'string') this.defaultGroup = options.default_group;
      if (!this.ctx.decisions && urls.decisions) {
        this.decisions = (await get(urls.decisions, 'decisions')).map((d) => (
          typeof d === 'string' ? { key: d, name: d } : { key: d.key || d.id, name: d.name || d.key || d.id }));
      }
      this.show(this.current, true);  // the process panel too (nothing selected): its channel list came with the options
    }

    // ---------------------------------------------------------------- moddle helpers

    write(fn) {
      this.writing++;
      try { return fn(); } finally { this.writing--; }
    }

    bo(element) { return element.businessObject; }

    ext(bo, type) {
      const values = (bo.extensionElements && bo.extensionElements.get('values')) || [];
      return values.find((v) => v.$type === type) || null;
    }

    exts(bo, type) {
      const values = (bo.extensionElements && bo.extensionElements.get('values')) || [];
      return values.filter((v) => v.$type === type);
    }

    /** Create, change or (attrs === null) remove the extension element `type` of `bo`. */
    setExt(element, bo, type, attrs) {
      this.write(() => {
        let container = bo.extensionElements;
        let item = this.ext(bo, type);
        if (attrs === null) {
          if (item) {
            this.modeling.updateModdleProperties(element, container,
              { values: container.get('values').filter((v) => v !== item) });
          }
          return;
        }
        if (!container) {
          container = this.moddle.create('bpmn:ExtensionElements', { values: [] });
          container.$parent = bo;
          this.modeling.updateModdleProperties(element, bo, { extensionElements: container });
        }
        if (!item) {
          item = this.moddle.create(type, attrs);
          item.$parent = container;
          this.modeling.updateModdleProperties(element, container, { values: [...container.get('values'), item] });
        } else {
          this.modeling.updateModdleProperties(element, item, attrs);
        }
      });
      return this.ext(bo, type);
    }

    /** Replace the process's pmoflow:announce elements by one per "channel: event, event" line. */
    setAnnouncements(element, bo, text) {
      const wanted = text.split('\n').map((line) => line.trim()).filter(Boolean).map((line) => {
        const [channel, events = ''] = line.split(/:(.*)/s);
        return { channel: channel.trim().replace(/^#/, ''), on: events.split(/[\s,]+/).filter(Boolean).join(' ') };
      });
      this.write(() => {
        let container = bo.extensionElements;
        if (!container) {
          if (!wanted.length) return;
          container = this.moddle.create('bpmn:ExtensionElements', { values: [] });
          container.$parent = bo;
          this.modeling.updateModdleProperties(element, bo, { extensionElements: container });
        }
        const items = wanted.map((attrs) => {
          const item = this.moddle.create('pmoflow:Announce', attrs);
          item.$parent = container;
          return item;
        });
        const others = container.get('values').filter((v) => v.$type !== 'pmoflow:Announce');
        this.modeling.updateModdleProperties(element, container, { values: [...others, ...items] });
      });
    }

    processOf(element) {
      const bo = element ? this.bo(element) : this.bo(this.canvas.getRootElement());
      if (bo.$type === 'bpmn:Process') return bo;
      if (bo.$type === 'bpmn:Participant') return bo.processRef;
      if (bo.$type === 'bpmn:Collaboration') return (bo.participants || [])[0] && bo.participants[0].processRef;
      return null;
    }

    // ---------------------------------------------------------------- showing an element

    show(element, keepScroll) {
      if (element && !this.registry.get(element.id)) element = null;
      this.current = element;
      const top = this.propsBox.scrollTop;
      this.propsBox.textContent = '';
      const target = element || this.canvas.getRootElement();
      if (!target || !target.businessObject) {           // before a diagram is imported
        this.propsBox.append(h('p', { class: 'pp-help', text: 'Select an element to see its properties.' }));
        return;
      }
      const bo = this.bo(target);
      const type = bo.$type;
      this.propsBox.dataset.element = bo.id || '';
      const process = ['bpmn:Collaboration', 'bpmn:Process'].includes(type) ? this.processOf(null) : null;
      const title = bo.name || (process && process.name) || '';
      this.propsBox.append(h('h2', { class: 'pp-kind', id: 'pp-heading' }, `${typeName(type)} `,
        title ? h('span', { class: 'pp-name', text: `“${title}”` }) : h('span', { class: 'pp-muted', text: '(no name yet)' })),
        h('p', { class: 'pp-id' }, 'id ', h('code', { text: bo.id || '' })));
      if (type !== 'bpmn:Collaboration' && type !== 'bpmn:Process') this.propsBox.append(this.nameField(target));
      for (const add of SECTIONS) add.call(this, target);         // panel-execution.js: what the engine runs
      if (['bpmn:Process', 'bpmn:Collaboration', 'bpmn:Participant'].includes(type)) this.processSections(target);
      if (type === 'bpmn:Lane') this.laneSection(target);
      if (type === 'bpmn:UserTask' || type === 'bpmn:ManualTask') this.userTaskSections(target);
      if (type === 'bpmn:StartEvent' && bo.$parent && bo.$parent.$type === 'bpmn:Process') this.formSection(target);
      if (type === 'bpmn:EndEvent') this.outcomeSection(target);
      if (type === 'bpmn:SequenceFlow') this.flowSection(target);
      if (type === 'bpmn:ExclusiveGateway' || type === 'bpmn:InclusiveGateway') this.gatewaySection(target);
      if (type === 'bpmn:BusinessRuleTask') this.decisionSection(target);
      if (type === 'bpmn:ServiceTask' && !this.serviceSection) this.connectorSection(target);
      const defs = bo.eventDefinitions || [];
      const message = defs.find((d) => d.$type === 'bpmn:MessageEventDefinition');
      if (message || type === 'bpmn:ReceiveTask' || type === 'bpmn:SendTask') this.messageSection(target, message || bo);
      const timer = defs.find((d) => d.$type === 'bpmn:TimerEventDefinition');
      if (timer) this.timerSection(target, timer);
      if (keepScroll) this.propsBox.scrollTop = top;
    }

    /** pmoflow:outcome on an end event: what requesters, lists and messages say the request came to when the
     * process ends here (engine/core/outcomes.py); empty lets the engine read it from the decision and the name. */
    outcomeSection(element) {
      const pick = select(END_OUTCOMES, this.bo(element).get('pmoflow:outcome'), { name: 'end-outcome' });
      pick.addEventListener('change', () => this.write(() => this.modeling.updateProperties(element,
        { 'pmoflow:outcome': pick.value || undefined })));
      this.propsBox.append(section('Outcome', field('Ending here, the request is', pick)));
    }

    nameField(element) {
      const input = h('input', { type: 'text', value: this.bo(element).name || '', name: 'name' });
      input.addEventListener('change', () => this.write(() => this.modeling.updateProperties(element,
        { name: input.value.trim() || undefined })));
      return field('Name', input);
    }

    // ---------------------------------------------------------------- process and lanes

    processSections(element) {
      const process = this.processOf(element);
      if (!process) return;
      const target = element.businessObject.$type === 'bpmn:Process' ? element
        : (this.registry.filter((e) => e.businessObject.processRef === process)[0] || element);
      const name = h('input', { type: 'text', value: process.name || '', name: 'process-name' });
      name.addEventListener('change', () => this.write(() => this.modeling.updateModdleProperties(target, process,
        { name: name.value.trim() || undefined })));
      const owner = h('input', { type: 'text', value: process.get('pmoflow:owner') || '', name: 'process-owner' });
      owner.addEventListener('change', () => this.write(() => this.modeling.updateModdleProperties(target, process,
        { 'pmoflow:owner': owner.value.trim() || undefined })));
      const sod = this.ext(process, 'pmoflow:SeparationOfDuties');
      const initiator = h('input', { type: 'checkbox', checked: sod && sod.initiator !== 'false', name: 'sod-initiator' });
      const repeat = h('input', { type: 'checkbox', checked: sod && sod.repeat !== 'false', name: 'sod-repeat' });
      const apply = () => {
        const attrs = (initiator.checked || repeat.checked)
          ? { initiator: String(initiator.checked), repeat: String(repeat.checked) } : null;
        this.setExt(target, process, 'pmoflow:SeparationOfDuties', attrs);
      };
      initiator.addEventListener('change', apply);
      repeat.addEventListener('change', apply);
      const rules = this.exts(process, 'pmoflow:Announce')
        .map((a) => `${a.channel || ''}: ${(a.on || '').split(/[\s,]+/).filter(Boolean).join(', ')}`).join('\n');
      const known = (this.channels || []).length ? `Channels here: ${this.channels.join(', ')}.` : 'No channels are named yet.';
      const announce = h('textarea', { name: 'process-announce', rows: 2, value: rules,
        placeholder: 'pmo-decisions: decided, sla_breached' });
      announce.addEventListener('change', () => this.setAnnouncements(target, process, announce.value));
      this.propsBox.append(section('Process', field('Process name', name), field('Owner (user name)', owner),
        field('Post to chat channels', announce), h('p', { class: 'pp-help', text: known }),
        h('label', { class: 'pp-check' }, initiator, ' The requester may not work on their own request'),
        h('label', { class: 'pp-check' }, repeat, ' Nobody completes two tasks of one request')));
    }

    laneSection(element) {
      const name = this.bo(element).name || '';
      const options = [['', '(pick a group)'], ...this.groups.map((g) => [g, g])];
      if (name && !this.groups.includes(name)) options.push([name, `${name} (no such group yet)`]);
      const pick = select(options, name, { name: 'lane-group' });
      pick.addEventListener('change', () => {
        if (pick.value) this.write(() => this.modeling.updateProperties(element, { name: pick.value }));
      });
      this.propsBox.append(section('Who works here',
        field('Group', pick, 'The lane stands for this group: its tasks go to the group\'s members. '
          + 'The lane\'s name is the group\'s name.')));
    }

    // ---------------------------------------------------------------- user tasks

    userTaskSections(element) {
      this.formSection(element);
      if (this.bo(element).$type === 'bpmn:UserTask') this.approvalSection(element);
      this.prioritySection(element);
      this.slaSection(element);
    }

    formId(element) {
      const form = this.ext(this.bo(element), 'pmoflow:Form');
      return form && form.ref ? form.ref : null;
    }

    formFileName(formId) {
      const existing = Object.keys(this.files).find((n) => n.endsWith('.form') && this.readForm(n)?.id === formId);
      return existing || `${formId}.form`;
    }

    /** A form id (and file name) from the element's name, "approve-budget-form", unique in the draft. */
    newFormId(element) {
      const bo = this.bo(element);
      const named = bo.name && /[A-Za-z]/.test(bo.name.normalize('NFKD')) ? bo.name : bo.id;  // a name in Latin letters
      const base = slug(named).replace(/_/g, '-') + '-form';
      const taken = (id) => !!this.files[`${id}.form`]
        || Object.keys(this.files).some((n) => n.endsWith('.form') && this.readForm(n)?.id === id);
      let id = base;
      for (let n = 2; taken(id); n += 1) id = `${base}-${n}`;
      return id;
    }

    readForm(name) {
      try { return JSON.parse(this.files[name]); } catch (err) { return null; }
    }

    get files() {
      return typeof this.ctx.getFiles === 'function' ? (this.ctx.getFiles() || {}) : this.localFiles;
    }

    storeFile(name, text) {
      if (typeof this.ctx.setFile === 'function') this.ctx.setFile(name, text);
      else if (text === null) delete this.localFiles[name];
      else this.localFiles[name] = text;
      if (typeof this.ctx.onChange === 'function') this.ctx.onChange();
    }

    formSection(element) {
      const box = section('Form');
      this.propsBox.append(box);
      const formId = this.formId(element);
      if (!formId) {
        const startEvent = this.bo(element).$type === 'bpmn:StartEvent';
        box.append(h('p', { class: 'pp-help', text: startEvent ? 'No start form: requests start without questions.'
          : 'No form: the task is done with one click.' }),
          h('button', { type: 'button', id: 'pp-add-form', text: 'Add a form', onclick: () => {
            const id = this.newFormId(element);
            const name = `${id}.form`;
            if (!this.files[name]) {
              this.storeFile(name, JSON.stringify({ type: 'default', id, schemaVersion: 16, components: [] }, null, 2));
            }
            this.setExt(element, this.bo(element), 'pmoflow:Form', { ref: id });
            this.show(element, true);
          } }));
        return;
      }
      const fileName = this.formFileName(formId);
      const schema = this.readForm(fileName) || { type: 'default', id: formId, schemaVersion: 16, components: [] };
      const save = () => {
        this.storeFile(fileName, JSON.stringify(schema, null, 2));
        this.renderPreview(preview, schema);
      };
      const list = h('ol', { class: 'pp-form-fields', id: 'pp-form-fields' });
      const preview = h('div', { class: 'pp-preview', id: 'pp-form-preview' });
      const redraw = () => {
        list.textContent = '';
        schema.components.forEach((c, i) => list.append(this.formFieldRow(schema, c, i, () => { save(); redraw(); },
          save)));
      };
      redraw();
      box.append(h('p', { class: 'pp-help' }, 'Form ', h('code', { text: formId }), ` (${fileName})`), list,
        h('div', { class: 'pp-row' },
          h('button', { type: 'button', id: 'pp-add-field', text: 'Add field', onclick: () => {
            const n = schema.components.length + 1;
            schema.components.push({ type: 'textfield', id: `Field_${Date.now().toString(36)}${n}`,
              key: `field_${n}`, label: `Field ${n}` });
            save(); redraw();
          } }),
          h('button', { type: 'button', class: 'pp-secondary', text: 'Remove form', onclick: () => {
            if (!window.confirm('Remove the form from this task? The form file stays in the draft.')) return;
            this.setExt(element, this.bo(element), 'pmoflow:Form', null);
            this.show(element, true);
          } })),
        h('h4', { text: 'Preview' }), preview);
      this.renderPreview(preview, schema);
    }

    formFieldRow(schema, c, index, structural, changed) {
      const comps = schema.components;
      const kind = c.type === 'datetime' && c.subtype === 'date' ? 'date' : c.type;
      const known = FIELD_TYPES.some(([t]) => t === kind);
      const move = (d) => {
        const j = index + d;
        if (j < 0 || j >= comps.length) return;
        [comps[index], comps[j]] = [comps[j], comps[index]];
        structural();
      };
      const tools = h('span', { class: 'pp-tools' },
        h('button', { type: 'button', title: 'Move up', 'aria-label': 'Move up', text: '↑', onclick: () => move(-1) }),
        h('button', { type: 'button', title: 'Move down', 'aria-label': 'Move down', text: '↓',
          onclick: () => move(1) }),
        h('button', { type: 'button', title: 'Remove field', 'aria-label': 'Remove field', text: '✕',
          onclick: () => { comps.splice(index, 1); structural(); } }));
      if (!known) {
        return h('li', { class: 'pp-form-field' }, h('span', { class: 'pp-muted',
          text: `${c.type}${c.label ? `: ${c.label}` : ''} (edit in the form file)` }), tools);
      }
      const row = h('li', { class: 'pp-form-field', dataset: { key: c.key || '' } });
      const type = select(FIELD_TYPES, kind, { name: 'field-type', 'aria-label': 'Field type' });
      const label = h('input', { type: 'text', name: 'field-label', value: c.label || c.dateLabel || '' });
      const key = h('input', { type: 'text', name: 'field-key', value: c.key || '', pattern: '[A-Za-z][A-Za-z0-9_]*' });
      const required = h('input', { type: 'checkbox', name: 'field-required',
        checked: !!(c.validate && c.validate.required) });
      const help = h('input', { type: 'text', name: 'field-help', value: c.description || '' });
      const options = h('textarea', { name: 'field-options', rows: 3,
        value: (c.values || []).map((o) => (o.label === o.value ? o.value : `${o.label} = ${o.value}`)).join('\n') });
      const min = h('input', { type: 'number', name: 'field-min', value: c.validate && c.validate.min });
      const max = h('input', { type: 'number', name: 'field-max', value: c.validate && c.validate.max });
      let keyTouched = !!c.key && c.key !== slug(c.label || '');
      const apply = () => {
        const t = type.value;
        const v = Object.assign({}, c.validate || {});
        delete v.min; delete v.max;
        if (required.checked) v.required = true; else delete v.required;
        if (t === 'number' && min.value !== '') v.min = Number(min.value);
        if (t === 'number' && max.value !== '') v.max = Number(max.value);
        const next = { type: t === 'date' ? 'datetime' : t, id: c.id || `Field_${key.value}`, key: key.value.trim() };
        if (t === 'date') { next.subtype = 'date'; next.dateLabel = label.value; } else next.label = label.value;
        if (help.value.trim()) next.description = help.value.trim();
        if (t === 'select' || t === 'radio') {
          next.values = options.value.split('\n').map((line) => line.trim()).filter(Boolean).map((line) => {
            const [l, ...rest] = line.split('=');
            const value = rest.length ? rest.join('=').trim() : l.trim();
            return { label: l.trim(), value };
          });
        }
        if (Object.keys(v).length) next.validate = v;
        for (const k of Object.keys(c)) delete c[k];
        Object.assign(c, next);
        optionsBox.hidden = !(t === 'select' || t === 'radio');
        rangeBox.hidden = t !== 'number';
        changed();
      };
      label.addEventListener('input', () => {
        if (!keyTouched) key.value = slug(label.value);
      });
      key.addEventListener('input', () => { keyTouched = true; });
      for (const control of [type, label, key, required, help, options, min, max]) {
        control.addEventListener('change', apply);
      }
      const optionsBox = field('Options (one per line: "Label" or "Label = value")', options);
      const rangeBox = h('div', { class: 'pp-row' }, field('Min', min), field('Max', max));
      optionsBox.hidden = !(kind === 'select' || kind === 'radio');
      rangeBox.hidden = kind !== 'number';
      row.append(h('div', { class: 'pp-row pp-row-head' }, h('strong', { text: `${index + 1}.` }), type, tools),
        field('Label', label), field('Key (variable name)', key),
        h('label', { class: 'pp-check' }, required, ' Required'), field('Help text', help), optionsBox, rangeBox);
      return row;
    }

    async renderPreview(box, schema) {
      const turn = (box.ppTurn = (box.ppTurn || 0) + 1);       // only the latest call draws
      if (!window.FormViewer) {
        try { await this.loadFormViewer(); } catch (err) { box.textContent = 'Preview unavailable.'; return; }
      }
      if (turn !== box.ppTurn) return;
      const holder = h('div');
      box.replaceChildren(holder);
      try {
        const form = new window.FormViewer.Form({ container: holder });
        await form.importSchema(JSON.parse(JSON.stringify(schema)));
      } catch (err) {
        if (turn === box.ppTurn) box.textContent = `Preview: ${err.message || err}`;
      }
    }

    loadFormViewer() {
      if (!this.formViewerLoad) {
        this.formViewerLoad = new Promise((resolve, reject) => {
          if (!document.querySelector(`link[href="${this.ctx.urls.formViewerCss}"]`)) {
            document.head.append(h('link', { rel: 'stylesheet', href: this.ctx.urls.formViewerCss }));
          }
          const script = h('script', { src: this.ctx.urls.formViewer });
          script.onload = resolve;
          script.onerror = reject;
          document.head.append(script);
        });
      }
      return this.formViewerLoad;
    }

    approvalSection(element) {
      const bo = this.bo(element);
      const approval = this.ext(bo, 'pmoflow:Approval');
      const rule = select(APPROVAL_RULES, approval ? (approval.rule || 'all') : '', { name: 'approval-rule' });
      const groupPick = select([['', '(approvers from an expression)'], ...this.groups.map((g) => [g, g])],
        approval && approval.group, { name: 'approval-group' });
      const approvers = h('input', { type: 'text', name: 'approval-approvers', value: approval && approval.approvers,
        placeholder: 'e.g. board_members' });
      const count = h('input', { type: 'number', min: 1, name: 'approval-count', value: approval && approval.count });
      const percent = h('input', { type: 'number', min: 1, max: 100, name: 'approval-percent',
        value: approval && approval.percent });
      const details = h('div', {}, field('Approvers: a group', groupPick),
        field('or an expression giving user names', approvers), field('How many (N)', count),
        field('Percentage', percent));
      const sync = () => {
        details.hidden = !rule.value;
        count.parentElement.hidden = rule.value !== 'count';
        percent.parentElement.hidden = rule.value !== 'percent';
        approvers.parentElement.hidden = !!groupPick.value;
      };
      const apply = () => {
        sync();
        if (!rule.value) { this.setExt(element, bo, 'pmoflow:Approval', null); return; }
        const attrs = { rule: rule.value, group: groupPick.value || undefined,
          approvers: groupPick.value ? undefined : (approvers.value.trim() || undefined),
          count: rule.value === 'count' ? (count.value || '1') : undefined,
          percent: rule.value === 'percent' ? (percent.value || '50') : undefined };
        this.setExt(element, bo, 'pmoflow:Approval', attrs);
      };
      for (const c of [rule, groupPick, approvers, count, percent]) c.addEventListener('change', apply);
      sync();
      this.propsBox.append(section('Approval', field('Pattern', rule), details,
        h('p', { class: 'pp-help', text: 'Separation of duties is set on the process (click the canvas).' })));
    }

    prioritySection(element) {
      const bo = this.bo(element);
      const current = this.ext(bo, 'pmoflow:Priority');
      const input = h('input', { type: 'text', name: 'priority', value: current && current.value,
        placeholder: '50, or e.g. 80 if budget > 250000 else 50' });
      input.addEventListener('change', () => this.setExt(element, bo, 'pmoflow:Priority',
        input.value.trim() ? { value: input.value.trim() } : null));
      this.propsBox.append(section('Priority', field('Priority (0-100, or an expression)', input)));
    }

    /** The boundary timers that give the task its due date, as the engine reads them (engine/spiff/runtime/run.py
     * `_boundary_due`): every timer on the task's border that is not a reminder (the earliest one wins). */
    dueTimers(element) {
      return (element.attachers || []).map((shape) => ({ shape, bo: shape.businessObject,
        timer: (shape.businessObject.eventDefinitions || []).find((d) => d.$type === 'bpmn:TimerEventDefinition') }))
        .filter((t) => t.timer && timerKindOf(t.bo) !== 'reminder');
    }

    /** The SLA as the engine takes it: from the task's due-date timer when it has one (the SLA property's `due`
     * is then ignored), else from `pmoflow:sla`. */
    slaSection(element) {
      const timers = this.dueTimers(element);
      if (timers.length) { this.timerSlaSection(element, timers); return; }
      const bo = this.bo(element);
      const sla = this.ext(bo, 'pmoflow:Sla');
      const parsed = readDuration(sla && sla.due) || { amount: '', unit: 'D' };
      const amount = h('input', { type: 'number', min: 0, name: 'sla-amount', value: parsed.amount });
      const unit = select(UNITS, parsed.unit, { name: 'sla-unit' });
      const calendar = this.calendarSelect('Calendar time (every day)', sla && sla.calendar, 'sla-calendar');
      const risk = h('input', { type: 'number', min: 1, max: 99, name: 'sla-at-risk',
        value: sla && sla.atRisk ? Math.round(Number(sla.atRisk) * 100) : '' , placeholder: '75' });
      const raw = sla && sla.due && !readDuration(sla.due) ? sla.due : '';
      const apply = () => {
        if (!amount.value || Number(amount.value) <= 0) { this.setExt(element, bo, 'pmoflow:Sla', null); return; }
        this.setExt(element, bo, 'pmoflow:Sla', { due: isoDuration(amount.value, unit.value),
          calendar: calendar.value || undefined,
          atRisk: risk.value ? String(Number(risk.value) / 100) : undefined });
      };
      for (const c of [amount, unit, calendar, risk]) c.addEventListener('change', apply);
      this.propsBox.append(section('SLA',
        h('div', { class: 'pp-row' }, field('Due within', amount), field('Unit', unit)),
        raw ? h('p', { class: 'pp-help' }, 'Now: ', h('code', { text: raw }), ' (set a duration to replace it)') : null,
        field('Counted on', calendar), field('At risk after (% of the time)', risk),
        h('div', { class: 'pp-row' },
          h('button', { type: 'button', class: 'pp-secondary', id: 'pp-add-reminder', text: 'Add reminder',
            onclick: () => this.addBoundaryTimer(element, 'reminder') }),
          h('button', { type: 'button', class: 'pp-secondary', id: 'pp-add-escalation', text: 'Add escalation',
            onclick: () => this.addBoundaryTimer(element, 'escalation') })),
        h('p', { class: 'pp-help', text: 'A reminder notifies and the task goes on; an escalation stops the task '
          + 'when the SLA runs out: connect its timer to the escalation target (or to a step that records a '
          + 'default outcome).' })));
    }

    /** The SLA carried by a boundary timer: the due time and its calendar are the timer's, written there; the
     * at-risk share stays on `pmoflow:sla` (editable when the task has one). */
    timerSlaSection(element, timers) {
      const bo = this.bo(element);
      const sla = this.ext(bo, 'pmoflow:Sla');
      const carrier = timers[0];
      const expression = carrier.timer.timeDuration;
      const editable = expression ? editableDuration(expression.body) : null;
      const parsed = (editable && readDuration(editable.duration)) || { amount: '', unit: 'D' };
      const amount = h('input', { type: 'number', min: 1, name: 'sla-amount', value: parsed.amount,
        disabled: !editable });
      const unit = select(UNITS, parsed.unit, { name: 'sla-unit', disabled: !editable });
      const calendar = this.calendarSelect('Calendar time (every day)', carrier.timer.get('pmoflow:calendar'),
        'sla-calendar');
      calendar.disabled = !expression;
      const risk = h('input', { type: 'number', min: 1, max: 99, name: 'sla-at-risk', disabled: !sla,
        value: sla && sla.atRisk ? Math.round(Number(sla.atRisk) * 100) : '', placeholder: '75' });
      const writeTimer = (attrs) => this.write(() => this.modeling.updateModdleProperties(carrier.shape,
        carrier.timer, attrs));
      amount.addEventListener('change', () => {
        if (!editable || !(Number(amount.value) > 0)) return;
        writeTimer({ timeDuration: this.moddle.create('bpmn:FormalExpression',
          { body: editable.body(isoDuration(amount.value, unit.value)) }) });
      });
      unit.addEventListener('change', () => amount.dispatchEvent(new Event('change')));
      calendar.addEventListener('change', () => writeTimer({ 'pmoflow:calendar': calendar.value || undefined }));
      risk.addEventListener('change', () => this.setExt(element, bo, 'pmoflow:Sla', { due: sla.due,
        calendar: sla.calendar || undefined, atRisk: risk.value ? String(Number(risk.value) / 100) : undefined }));
      const name = carrier.bo.name ? `“${carrier.bo.name}” (${carrier.bo.id})` : carrier.bo.id;
      const body = expression ? expression.body : '';
      this.propsBox.append(section('SLA',
        h('p', { class: 'pp-help', id: 'pp-sla-timer', dataset: { timer: carrier.bo.id } },
          `Due when the boundary timer ${name} fires: it ends the task (${timerKindOf(carrier.bo)}).`,
          timers.length > 1 ? ` The earliest of its ${timers.length} timers counts.` : ''),
        h('div', { class: 'pp-row' }, field('Due within', amount), field('Unit', unit)),
        editable && editable.variable ? h('p', { class: 'pp-help' }, 'An instance\'s ', h('code',
          { text: editable.variable }), ' variable overrides this default.') : null,
        !editable ? h('p', { class: 'pp-help' }, 'Now: ', h('code', { text: body || '(a date or a cycle)' }),
          ' (edit it on the timer)') : null,
        field('Counted on', calendar),
        field('At risk after (% of the time)', risk, sla ? null
          : 'At risk after 75 % of the time (an SLA property on the task can change the share).'),
        h('div', { class: 'pp-row' },
          h('button', { type: 'button', class: 'pp-secondary', id: 'pp-add-reminder', text: 'Add reminder',
            onclick: () => this.addBoundaryTimer(element, 'reminder') }))));
    }

    /** Calendar time, or business time on one of the calendars the admin keeps (/admin/calendars). */
    calendarSelect(plain, value, name) {
      const names = [...new Set([...this.calendars, ...(value ? [value] : [])])];
      return select([['', plain], ...names.map((n) => [n, n === 'default' ? 'Business time (default calendar)'
        : `Business time: ${n}${this.calendars.includes(n) ? '' : ' (no such calendar)'}`])], value, { name });
    }

    /** A timer on the task's border: a repeating reminder, or an interrupting escalation at the SLA's due time. */
    addBoundaryTimer(element, kind) {
      const bo = this.bo(element);
      const sla = this.ext(bo, 'pmoflow:Sla');
      const factory = this.modeler.get('elementFactory');
      const taken = (element.attachers || []).length;
      let event;
      this.write(() => {
        const shape = factory.createShape({ type: 'bpmn:BoundaryEvent', eventDefinitionType: 'bpmn:TimerEventDefinition' });
        event = this.modeling.createShape(shape, { x: element.x + 20 + 30 * taken, y: element.y + element.height },
          element, { attach: true });
        const timer = event.businessObject.eventDefinitions[0];
        const reminder = kind === 'reminder';
        const due = sla && readDuration(sla.due) ? sla.due : 'P1D';
        const body = reminder ? `"R/${due === 'P1D' ? 'PT4H' : 'P1D'}"` : JSON.stringify(due);
        this.modeling.updateProperties(event, { cancelActivity: !reminder, 'pmoflow:timerKind': kind,
          name: reminder ? 'Reminder' : 'SLA breached' });
        this.modeling.updateModdleProperties(event, timer, {
          [reminder ? 'timeCycle' : 'timeDuration']: this.moddle.create('bpmn:FormalExpression', { body }),
          'pmoflow:calendar': (!reminder && sla && sla.calendar) || undefined });   // cycles run on calendar time
      });
      this.modeler.get('selection').select(event);
    }

    // ---------------------------------------------------------------- gateways and conditions

    gatewaySection(element) {
      const bo = this.bo(element);
      const outgoing = bo.outgoing || [];
      const pick = select([['', '(none)'], ...outgoing.map((f) => [f.id, f.name || this.flowTarget(f)])],
        bo.default && bo.default.id, { name: 'gateway-default' });
      pick.addEventListener('change', () => this.write(() => this.modeling.updateProperties(element,
        { default: pick.value ? this.registry.get(pick.value).businessObject : undefined })));
      const rows = outgoing.map((f) => h('li', {},
        h('a', { href: '#', text: f.name || this.flowTarget(f), onclick: (e) => {
          e.preventDefault(); this.modeler.get('selection').select(this.registry.get(f.id));
        } }), ' ',
        h('code', { text: bo.default === f ? 'default' : ((f.conditionExpression && f.conditionExpression.body) || '—') })));
      this.propsBox.append(section('Branches', field('Default branch (taken when no condition holds)', pick),
        h('ul', { class: 'pp-branches' }, rows),
        h('p', { class: 'pp-help', text: 'Click a branch to build its condition.' })));
    }

    flowTarget(flow) {
      return `to ${flow.targetRef ? (flow.targetRef.name || flow.targetRef.id) : '?'}`;
    }

    flowSection(element) {
      const bo = this.bo(element);
      const source = bo.sourceRef;
      if (!source || !(['bpmn:ExclusiveGateway', 'bpmn:InclusiveGateway'].includes(source.$type)
          || source.$instanceOf('bpmn:Activity'))) return;               // a task's conditional flows split too
      const box = section('Condition');
      this.propsBox.append(box);
      const sourceEl = this.registry.get(source.id);
      const isDefault = h('input', { type: 'checkbox', name: 'flow-default', checked: source.default === bo });
      isDefault.addEventListener('change', () => {
        this.write(() => {
          this.modeling.updateProperties(sourceEl, { default: isDefault.checked ? bo : undefined });
          if (isDefault.checked) this.modeling.updateProperties(element, { conditionExpression: undefined });
        });
        this.show(element, true);
      });
      box.append(h('label', { class: 'pp-check' }, isDefault, ' Default branch (taken when no other condition holds)'));
      if (source.default === bo) return;
      const expression = (bo.conditionExpression && bo.conditionExpression.body) || '';
      const builder = h('div', { class: 'pp-builder', id: 'pp-condition-builder' });
      box.append(builder);
      if (!expression.trim()) {
        this.renderBuilder(element, builder, { all: [{ var: '', op: '==', value: '' }] }, false);
        return;
      }
      builder.textContent = 'Reading the condition…';
      this.post(this.ctx.urls.conditionsParse, { expression }).then(({ ok, data }) => {
        if (this.current !== element) return;
        if (ok && data.condition) this.renderBuilder(element, builder, data.condition, true);
        else this.renderRaw(element, builder, expression, ok ? data.reason : null);
      });
    }

    renderBuilder(element, box, condition, saved) {
      box.textContent = '';
      const joiner = Object.keys(condition)[0] === 'any' ? 'any' : 'all';
      const clauses = condition[joiner].filter((c) => !c.all && !c.any);
      if (clauses.length !== condition[joiner].length) {           // nested groups: the raw editor shows them
        this.renderRaw(element, box, this.bo(element).conditionExpression.body, 'nested groups');
        return;
      }
      const join = select([['all', 'all of these hold (and)'], ['any', 'any of these holds (or)']], joiner,
        { name: 'condition-join' });
      const list = h('div', { class: 'pp-clauses' });
      const out = h('code', { class: 'pp-expression', id: 'pp-condition-expression',
        text: saved ? this.bo(element).conditionExpression.body : '' });
      const error = h('p', { class: 'pp-error', role: 'alert', hidden: true });
      const rows = [];
      const collect = () => ({ [join.value]: rows.map((r) => r.read()) });
      const apply = async () => {
        const structured = collect();
        const turn = (this.buildTurn = (this.buildTurn || 0) + 1);     // answers may arrive out of order
        if (rows.some((r) => !r.complete())) { error.hidden = true; return; }
        const { ok, data } = await this.post(this.ctx.urls.conditionsBuild, { condition: structured });
        if (turn !== this.buildTurn || this.current !== element) return;
        if (!ok) {
          error.hidden = false;
          error.textContent = (data && data.error && data.error.message) || 'The condition is not valid.';
          return;
        }
        error.hidden = true;
        out.textContent = data.expression;
        const body = this.moddle.create('bpmn:FormalExpression', { body: data.expression });
        this.write(() => this.modeling.updateProperties(element, { conditionExpression: body }));
      };
      const addRow = (clause) => {
        const variable = h('input', { type: 'text', name: 'clause-var', value: clause.var || '',
          placeholder: 'variable', list: 'pp-variables' });
        const op = select(OPERATORS, clause.op || '==', { name: 'clause-op' });
        const value = h('input', { type: 'text', name: 'clause-value', placeholder: 'value',
          value: clause.value === undefined ? '' : (Array.isArray(clause.value)
            ? clause.value.map(valueText).join(', ') : valueText(clause.value)) });
        const sync = () => { value.hidden = NO_VALUE.includes(op.value); };
        const row = h('div', { class: 'pp-clause' }, variable, op, value,
          h('button', { type: 'button', title: 'Remove', 'aria-label': 'Remove clause', text: '✕', onclick: () => {
            if (rows.length === 1) return;
            rows.splice(rows.indexOf(api), 1); row.remove(); apply();
          } }));
        const api = {
          read: () => {
            const c = { var: variable.value.trim(), op: op.value };
            if (LIST_OPS.includes(op.value)) c.value = splitList(value.value);
            else if (!NO_VALUE.includes(op.value)) c.value = readValue(value.value);
            return c;
          },
          complete: () => !!variable.value.trim() && (NO_VALUE.includes(op.value) || value.value.trim() !== ''),
        };
        for (const c of [variable, op, value]) c.addEventListener('change', () => { sync(); apply(); });
        sync();
        rows.push(api);
        list.append(row);
      };
      clauses.forEach(addRow);
      join.addEventListener('change', apply);
      box.append(this.variableList(), field('The branch is taken when', join), list,
        h('div', { class: 'pp-row' },
          h('button', { type: 'button', id: 'pp-add-clause', text: 'Add clause', onclick: () => addRow({ op: '==' }) }),
          h('button', { type: 'button', class: 'pp-secondary', text: 'Edit as expression', onclick: () => this.renderRaw(
            element, box, out.textContent || (this.bo(element).conditionExpression || {}).body || '', null) })),
        error, h('p', { class: 'pp-help' }, 'Expression: ', out),
        h('p', { class: 'pp-help', text: 'Numbers and true/false are read as such; put text in "quotes" '
          + 'to keep it text. "is one of" takes a comma-separated list.' }));
    }

    renderRaw(element, box, expression, reason) {
      box.textContent = '';
      const text = h('textarea', { name: 'condition-raw', rows: 3, value: expression, spellcheck: 'false' });
      const error = h('p', { class: 'pp-error', role: 'alert', hidden: true });
      const apply = h('button', { type: 'button', text: 'Apply', onclick: async () => {
        const body = text.value.trim();
        const { ok, data } = await this.post(this.ctx.urls.conditionsParse, { expression: body });
        if (!ok) { error.hidden = false; error.textContent = 'Could not check the expression.'; return; }
        if (body && data.problem) { error.hidden = false; error.textContent = `Not saved: ${data.problem}`; return; }
        const value = this.moddle.create('bpmn:FormalExpression', { body });
        this.write(() => this.modeling.updateProperties(element, { conditionExpression: body ? value : undefined }));
        error.hidden = true;
        if (data.condition) this.renderBuilder(element, box, data.condition, true);
      } });
      box.append(reason ? h('p', { class: 'pp-help', text: `The builder cannot show this expression (${reason}); `
        + 'edit it as Python.' }) : null, field('Condition (Python expression)', text), error,
      h('div', { class: 'pp-row' }, apply, h('button', { type: 'button', class: 'pp-secondary', text: 'Use the builder',
        onclick: () => this.renderBuilder(element, box, { all: [{ var: '', op: '==', value: '' }] }, false) })));
    }

    variableList() {
      const names = new Set();
      for (const name of Object.keys(this.files)) {
        const schema = name.endsWith('.form') ? this.readForm(name) : null;
        for (const c of (schema && schema.components) || []) if (c.key) names.add(c.key);
      }
      const existing = document.getElementById('pp-variables');
      if (existing) existing.remove();
      return h('datalist', { id: 'pp-variables' }, [...names].sort().map((n) => h('option', { value: n })));
    }

    // ---------------------------------------------------------------- decisions, connectors, messages, timers

    decisionSection(element) {
      const bo = this.bo(element);
      const current = this.ext(bo, 'pmoflow:Decision');
      const ref = current && current.ref;
      const known = new Map(this.decisions.map((d) => [d.key, d.name]));
      for (const [name, text] of Object.entries(this.files)) {
        if (!name.endsWith('.dmn')) continue;
        for (const m of text.matchAll(/<(?:\w+:)?decision\b[^>]*\bid="([^"]+)"(?:[^>]*\bname="([^"]*)")?/g)) {
          known.set(m[1], `${m[2] || m[1]} (this draft)`);
        }
      }
      const options = [['', '(pick a decision table)'], ...[...known].map(([k, n]) => [k, `${n} — ${k}`])];
      if (ref && !known.has(ref)) options.push([ref, `${ref} (not found)`]);
      const pick = select(options, ref, { name: 'decision-ref' });
      pick.addEventListener('change', () => this.setExt(element, bo, 'pmoflow:Decision',
        pick.value ? { ref: pick.value } : null));
      const fileOf = (key) => Object.keys(this.files).find((n) => n.endsWith('.dmn')
        && new RegExp(`<(?:\\w+:)?decision\\b[^>]*\\bid="${key}"`).test(this.files[n]));
      const edit = ref && fileOf(ref) && this.ctx.urls.dmn
        ? h('a', { href: this.ctx.urls.dmn.replace('FILE', encodeURIComponent(fileOf(ref))), text: 'Edit the table' })
        : null;
      const create = h('button', { type: 'button', id: 'pp-new-decision', text: 'New decision table', onclick: () => {
        const id = slug(window.prompt('Decision id (letters, digits, _):', `${slug(bo.name || bo.id)}_decision`) || '');
        if (!id || id === 'field') return;
        if (this.files[`${id}.dmn`] || known.has(id)) { window.alert(`${id} exists already.`); return; }
        this.storeFile(`${id}.dmn`, newDecisionTable(id, bo.name || id));
        this.setExt(element, bo, 'pmoflow:Decision', { ref: id });
        this.show(element, true);
      } });
      this.propsBox.append(section('Decision', field('Decision table', pick), h('div', { class: 'pp-row' }, create, edit),
        h('p', { class: 'pp-help', text: 'The decision\'s outputs become process variables.' })));
    }

    connectorSection(element) {
      const bo = this.bo(element);
      const conn = this.ext(bo, 'pmoflow:Connector');
      const method = select(METHODS.map((m) => [m, m]), (conn && conn.method) || 'GET', { name: 'connector-method' });
      const url = h('input', { type: 'url', name: 'connector-url', value: conn && conn.url,
        placeholder: 'https://erp.example.com/api/projects/{project_id}' });
      const timeout = h('input', { type: 'number', min: 1, max: 120, name: 'connector-timeout',
        value: conn && conn.timeout, placeholder: '10' });
      const retries = h('input', { type: 'number', min: 0, max: 10, name: 'connector-retries',
        value: conn && conn.retries, placeholder: '3' });
      const result = h('input', { type: 'text', name: 'connector-result', value: conn && conn.resultVariable,
        placeholder: 'erp_response' });
      const body = h('textarea', { name: 'connector-body', rows: 3, value: conn && conn.body && conn.body.text,
        placeholder: '{"title": title, "budget": budget}' });
      const headers = h('textarea', { name: 'connector-headers', rows: 2,
        value: ((conn && conn.headers) || []).map((x) => (x.secret ? `${x.name}: secret ${x.secret}`
          : `${x.name}: ${x.value || ''}`)).join('\n'), placeholder: 'Accept: application/json\nAuthorization: secret ERP_TOKEN' });
      const outputs = h('textarea', { name: 'connector-outputs', rows: 2,
        value: ((conn && conn.outputs) || []).map((o) => `${o.variable} = ${o.expression}`).join('\n'),
        placeholder: "erp_project_id = response['body']['id']" });
      const apply = () => {
        if (!url.value.trim()) { this.setExt(element, bo, 'pmoflow:Connector', null); return; }
        const item = this.setExt(element, bo, 'pmoflow:Connector', {
          method: method.value, url: url.value.trim(), timeout: timeout.value || undefined,
          retries: retries.value || undefined, resultVariable: result.value.trim() || undefined,
        });
        const hs = headers.value.split('\n').map((l) => l.trim()).filter((l) => l.includes(':')).map((l) => {
          const i = l.indexOf(':');
          const name = l.slice(0, i).trim();
          const rest = l.slice(i + 1).trim();
          const secret = /^secret\s+([A-Z][A-Z0-9_]*)$/.exec(rest);
          return this.moddle.create('pmoflow:Header', secret ? { name, secret: secret[1] } : { name, value: rest });
        });
        const os = outputs.value.split('\n').map((l) => l.trim()).filter((l) => l.includes('=')).map((l) => {
          const i = l.indexOf('=');
          return this.moddle.create('pmoflow:Output', { variable: l.slice(0, i).trim(), expression: l.slice(i + 1).trim() });
        });
        const b = body.value.trim() ? this.moddle.create('pmoflow:Body', { text: body.value.trim() }) : undefined;
        for (const x of [...hs, ...os, b].filter(Boolean)) x.$parent = item;
        this.write(() => this.modeling.updateModdleProperties(element, item, { headers: hs, outputs: os, body: b }));
      };
      for (const c of [method, url, timeout, retries, result, body, headers, outputs]) c.addEventListener('change', apply);
      this.propsBox.append(section('HTTP call',
        h('div', { class: 'pp-row' }, field('Method', method), field('URL ({variable} is filled in)', url)),
        field('Headers (one per line; "Name: secret NAME" reads PMOFLOW_CONNECTOR_SECRET_NAME)', headers),
        field('Body (a Python expression, sent as JSON)', body),
        field('Outputs (variable = expression over response)', outputs),
        field('Keep the whole response in', result),
        h('div', { class: 'pp-row' }, field('Timeout (s)', timeout), field('Retries', retries))));
    }

    messageSection(element, holder) {
      const message = holder.messageRef;
      const name = h('input', { type: 'text', name: 'message-name', value: message && message.name,
        placeholder: 'e.g. vendor_quote_received' });
      name.addEventListener('change', () => {
        const value = name.value.trim();
        const definitions = this.modeler.getDefinitions();
        let ref = (definitions.rootElements || []).find((r) => r.$type === 'bpmn:Message' && r.name === value);
        this.write(() => {
          if (!ref && value) {
            ref = this.bpmnFactory.create('bpmn:Message', { name: value });
            ref.$parent = definitions;
            this.modeling.updateModdleProperties(element, definitions,
              { rootElements: [...definitions.get('rootElements'), ref] });
          }
          this.modeling.updateModdleProperties(element, holder, { messageRef: value ? ref : undefined });
        });
      });
      this.propsBox.append(section('Message', field('Message name', name,
        'Senders name this message and the request (business key or instance id): POST /api/v1/messages.')));
    }

    timerSection(element, timer) {
      const bo = this.bo(element);
      const kindNow = timer.timeDate ? 'date' : (timer.timeCycle ? 'cycle' : 'duration');
      const exprOf = (kind) => (timer[{ date: 'timeDate', cycle: 'timeCycle', duration: 'timeDuration' }[kind]] || {}).body || '';
      const current = exprOf(kindNow);
      const literal = unquote(current) ?? (/^(R\d*\/)?P|^\d{4}-/.test(current.trim()) ? current.trim() : null);
      const kind = select([['duration', 'After a duration'], ['date', 'At a date and time'],
        ['cycle', 'Repeatedly']], kindNow, { name: 'timer-kind' });
      const dur = readDuration(kindNow === 'cycle' ? (literal || '').replace(/^R\d*\//, '') : literal)
        || { amount: '', unit: 'D' };
      const amount = h('input', { type: 'number', min: 0, name: 'timer-amount', value: dur.amount });
      const unit = select(UNITS, dur.unit, { name: 'timer-unit' });
      const when = h('input', { type: 'datetime-local', name: 'timer-date',
        value: kindNow === 'date' && literal ? literal.replace(/Z$|[+-]\d\d:\d\d$/, '').slice(0, 16) : '' });
      const raw = h('input', { type: 'text', name: 'timer-expression', value: literal === null ? current : '',
        placeholder: 'or an expression, e.g. var("approval_sla", "P2D")' });
      const durationBox = h('div', { class: 'pp-row' }, field('Every / after', amount), field('Unit', unit));
      let calendar = null;
      const sync = () => {
        durationBox.hidden = kind.value === 'date';
        when.parentElement.hidden = kind.value !== 'date';
        if (calendar) calendar.parentElement.hidden = kind.value !== 'duration';
      };
      const apply = () => {
        sync();
        let text = raw.value.trim();
        if (!text) {
          if (kind.value === 'date' && when.value) text = JSON.stringify(`${when.value}:00Z`.slice(0, 20));
          else if (kind.value !== 'date' && amount.value) {
            const d = isoDuration(amount.value, unit.value);
            text = JSON.stringify(kind.value === 'cycle' ? `R/${d}` : d);
          }
        }
        if (!text) return;
        const prop = { date: 'timeDate', cycle: 'timeCycle', duration: 'timeDuration' }[kind.value];
        const attrs = { timeDate: undefined, timeCycle: undefined, timeDuration: undefined };
        if (kind.value !== 'duration') attrs['pmoflow:calendar'] = undefined;     // business time: durations only
        attrs[prop] = this.moddle.create('bpmn:FormalExpression', { body: text });
        this.write(() => this.modeling.updateModdleProperties(element, timer, attrs));
      };
      for (const c of [kind, amount, unit, when, raw]) c.addEventListener('change', apply);
      const parts = [field('When', kind), durationBox, field('Date and time (UTC)', when), field('Expression', raw)];
      calendar = this.calendarSelect('Calendar time', timer.get('pmoflow:calendar'), 'timer-calendar');
      calendar.addEventListener('change', () => this.write(() => this.modeling.updateModdleProperties(element, timer,
        { 'pmoflow:calendar': calendar.value || undefined })));
      parts.push(field('Counted on', calendar));
      if (bo.$type === 'bpmn:BoundaryEvent') {
        const tk = select(TIMER_KINDS, bo.get('pmoflow:timerKind'), { name: 'timer-purpose' });
        tk.addEventListener('change', () => this.write(() => this.modeling.updateProperties(element,
          { 'pmoflow:timerKind': tk.value || undefined })));
        parts.push(field('Purpose', tk, 'Reminder: notify and go on. Escalation: the outgoing flow takes the task '
          + 'elsewhere (e.g. a manager\'s lane). Default outcome: the outgoing flow records an outcome.'));
      }
      sync();
      this.propsBox.append(section('Timer', ...parts));
    }

    // ---------------------------------------------------------------- server calls

    async post(url, body) {
      try {
        const r = await fetch(url, { method: 'POST', credentials: 'same-origin',
          headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-CSRFToken': this.ctx.csrfToken || '' },
          body: JSON.stringify(body) });
        let data = null;
        try { data = await r.json(); } catch (err) { data = null; }
        return { ok: r.ok, status: r.status, data };
      } catch (err) {
        return { ok: false, status: 0, data: { error: { message: `The server cannot be reached: ${err.message}` } } };
      }
    }

    // ---------------------------------------------------------------- dry run

    renderDry() {
      const box = this.dryBox;
      box.textContent = '';
      this.dryVars = h('textarea', { id: 'dry-variables', rows: 4, spellcheck: 'false', value: '{}' });
      this.dryOut = h('div', { id: 'dry-result', 'aria-live': 'polite' });
      box.append(h('p', { class: 'pp-help', text: 'Walk the draft with sample data. Nothing is saved and no '
        + 'real request is touched.' }),
      field('Sample variables (JSON)', this.dryVars),
      h('div', { class: 'pp-row' },
        h('button', { type: 'button', id: 'dry-start', text: 'Start dry run', onclick: () => this.dryStart() }),
        h('button', { type: 'button', class: 'pp-secondary', id: 'dry-reset', text: 'Clear', onclick: () => {
          this.dry = null; this.clearMarkers(); this.dryOut.textContent = '';
        } })),
      this.dryOut);
    }

    processKey() {
      return this.ctx.processKey || this.ctx.key || null;
    }

    /** Sample start variables from the start form's fields, so the designer only fills in values. */
    sampleVariables() {
      const process = this.processOf(null);
      const start = process && (process.flowElements || []).find((e) => e.$type === 'bpmn:StartEvent'
        && this.ext(e, 'pmoflow:Form'));
      const ref = start && this.ext(start, 'pmoflow:Form').ref;
      const schema = ref ? this.readForm(this.formFileName(ref)) : null;
      const sample = {};
      for (const c of (schema && schema.components) || []) {
        if (!c.key) continue;
        if (c.type === 'number') sample[c.key] = 0;
        else if (c.type === 'checkbox') sample[c.key] = false;
        else if (c.values && c.values.length) sample[c.key] = c.values[0].value;
        else sample[c.key] = '';
      }
      return JSON.stringify(sample, null, 2);
    }

    async dryFiles() {
      if (typeof this.ctx.files === 'function') return this.ctx.files();
      const { xml } = await this.modeler.saveXML({ format: false });
      const key = this.processKey() || (this.processOf(null) || {}).id || 'draft';
      return [{ name: `${key}.bpmn`, content: xml },
        ...Object.entries(this.files).filter(([n]) => /\.(form|dmn)$/.test(n)).map(([name, content]) => ({ name, content }))];
    }

    async dryStart() {
      let variables;
      try { variables = JSON.parse(this.dryVars.value || '{}'); } catch (err) {
        this.dryError(`Sample variables are not valid JSON: ${err.message}`); return;
      }
      const body = { files: await this.dryFiles(), variables };
      if (this.processKey()) body.process = this.processKey();
      this.dryCall(body);
    }

    async dryStep(action) {
      if (!this.dry) return;
      this.dryCall({ files: await this.dryFiles(), process: this.dry.process, state: this.dry.state, action });
    }

    async dryCall(body) {
      if (this.dryBusy) return;                 // one step at a time: a double click plays nothing twice
      this.dryBusy = true;
      let answer;
      try { answer = await this.post(this.ctx.urls.dryRun, body); } finally { this.dryBusy = false; }
      const { ok, data } = answer;
      if (!ok) {
        const err = (data && data.error) || {};
        const problems = (err.details && err.details.problems) || [];
        const fields = (err.details && err.details.fields) || {};
        this.dryError(err.message || 'The dry run failed.', problems.map((p) => `${p.element_id ? `[${p.element_id}] ` : ''}${p.message}`)
          .concat(Object.entries(fields).map(([k, v]) => `${k}: ${v}`)));
        return;
      }
      this.dry = data;
      this.renderDryResult();
    }

    dryStale() {
      this.dry = null;
      this.clearMarkers();
      if (!this.dryOut.querySelector('#dry-stale')) {
        this.dryOut.prepend(h('p', { class: 'pp-help', id: 'dry-stale',
          text: 'The diagram changed: start the dry run again to see the new path.' }));
      }
      this.dryOut.querySelectorAll('button').forEach((b) => { b.disabled = true; });
    }

    dryError(message, details) {
      const old = this.dryOut.querySelector('.pp-error');
      if (old) old.remove();
      this.dryOut.prepend(h('div', { class: 'pp-error', role: 'alert', id: 'dry-error' }, h('p', { text: message }),
        (details || []).length ? h('ul', {}, details.map((d) => h('li', { text: d }))) : null));
    }

    renderDryResult() {
      const d = this.dry;
      const out = this.dryOut;
      out.textContent = '';
      const label = { running: 'Waiting', completed: 'Completed', error: 'Stopped by an incident', cancelled: 'Cancelled' };
      out.append(h('p', { class: `pp-status pp-status-${d.status}`, id: 'dry-status', dataset: { status: d.status } },
        h('strong', { text: label[d.status] || d.status }), ` · clock ${d.now.replace('T', ' ').slice(0, 16)} UTC`));
      if (d.incident) out.append(h('p', { class: 'pp-error', text: `${d.incident.element_id || ''}: ${d.incident.message}` }));
      for (const note of d.notes || []) out.append(h('p', { class: 'pp-help pp-note', role: 'note', text: note }));
      for (const task of d.open_tasks) out.append(this.dryTask(task));
      for (const call of d.connector_tasks || []) out.append(this.dryConnector(call));
      for (const task of d.external_tasks || []) out.append(this.dryExternal(task));
      if (d.timers.length) {
        out.append(h('h4', { text: 'Waiting timers' }), h('ul', { class: 'pp-list' }, d.timers.map((t) => h('li', {},
          `${t.name} — due ${utcTime(t.due_at)} `,
          h('button', { type: 'button', class: 'dry-fire', dataset: { element: t.element_id }, text: 'Let it fire now',
            onclick: () => this.dryStep({ action: 'timer', element: t.element_id }) })))));
      }
      for (const name of d.messages || []) {
        const payload = h('input', { type: 'text', value: '{}', 'aria-label': `Payload of ${name}` });
        out.append(h('div', { class: 'pp-card' }, h('p', {}, 'Waits for message ', h('code', { text: name })), payload,
          h('button', { type: 'button', text: 'Send', onclick: () => {
            let p; try { p = JSON.parse(payload.value || '{}'); } catch (err) { this.dryError('The payload is not JSON.'); return; }
            this.dryStep({ action: 'message', name, payload: p });
          } })));
      }
      if ((d.catches || []).length) {
        out.append(h('h4', { text: 'Waiting events' }), ...d.catches.map((c) => this.dryCatch(c)));
      }
      if (d.decisions.length) {
        out.append(h('h4', { text: 'Decisions made' }), h('ul', { class: 'pp-list', id: 'dry-decisions' },
          d.decisions.map((x) => h('li', {}, h('strong', { text: x.name || x.element_id }), ` (${x.decision || ''}): `,
            `in ${JSON.stringify(x.inputs || {})} → out ${JSON.stringify(x.outputs || {})}`,
            ` · rules ${(x.matched_rules || []).join(', ') || 'none'}`))));
      }
      out.append(h('h4', { text: 'Path taken' }), h('ol', { class: 'pp-list', id: 'dry-path' },
        d.steps.map((s) => h('li', { dataset: { element: s.element_id }, text: s.name || s.element_id }))),
      h('h4', { text: 'Variables' }), h('pre', { class: 'pp-vars', id: 'dry-variables-now',
        text: JSON.stringify(d.variables, null, 2) }));
      this.markPath();
    }

    dryTask(task) {
      const card = h('form', { class: 'pp-card dry-task', dataset: { element: task.element_id } });
      card.append(h('p', {}, h('strong', { text: task.name }), task.lane ? ` · ${task.lane}` : '',
        task.due_at ? ` · due ${utcTime(task.due_at)}` : ''));
      const inputs = [];
      const comps = (task.form && task.form.components) || [];
      for (const c of comps) {
        if (!c.key) continue;
        const kind = c.type === 'datetime' ? 'date' : c.type;
        let input;
        if (kind === 'select' || kind === 'radio') {
          input = select([['', '—'], ...(c.values || []).map((o) => [String(o.value), o.label])], '');
        } else if (kind === 'checkbox') {
          input = h('input', { type: 'checkbox' });
        } else {
          input = h('input', { type: kind === 'number' ? 'number' : (kind === 'date' ? 'date' : 'text'), step: 'any' });
        }
        input.name = c.key;
        inputs.push([c, input]);
        card.append(kind === 'checkbox' ? h('label', { class: 'pp-check' }, input, ` ${c.label || c.key}`)
          : field(`${c.label || c.dateLabel || c.key}${c.validate && c.validate.required ? ' *' : ''}`, input));
      }
      const extra = h('input', { type: 'text', name: '_extra', placeholder: '{"decision": "approve"}' });
      if (!comps.length) card.append(field('Data (JSON)', extra));
      card.append(h('button', { type: 'submit', class: 'dry-complete', text: 'Complete' }));
      card.addEventListener('submit', (e) => {
        e.preventDefault();
        let data = {};
        if (!comps.length && extra.value.trim()) {
          try { data = JSON.parse(extra.value); } catch (err) { this.dryError('The data is not JSON.'); return; }
        }
        for (const [c, input] of inputs) {
          if (c.type === 'checkbox') data[c.key] = input.checked;
          else if (input.value === '') continue;
          else if (c.type === 'number') data[c.key] = Number(input.value);
          else {
            const opt = (c.values || []).find((o) => String(o.value) === input.value);
            data[c.key] = opt ? opt.value : input.value;
          }
        }
        this.dryStep({ action: 'complete', task: task.id, data });
      });
      return card;
    }

    /** A waiting signal, error, escalation or conditional event: the designer makes it happen. */
    dryCatch(c) {
      const verb = { signal: 'Broadcast signal', error: 'Throw error', escalation: 'Throw escalation',
        conditional: 'Set variables and check', message: 'Send message' }[c.kind] || 'Trigger';
      const host = c.attached_to && this.registry.get(c.attached_to);
      const starts = host && host.businessObject.triggeredByEvent;
      const where = c.attached_to ? `${starts ? ' to start' : ' on'} ${this.nameOf(c.attached_to)}` : '';
      const what = c.kind === 'conditional' ? 'a condition' : `${c.kind} ${c.code || '(any)'}`;
      const payload = h('input', { type: 'text', value: '{}', 'aria-label': `Variables for ${c.name}` });
      return h('div', { class: 'pp-card dry-catch', dataset: { element: c.element_id, kind: c.kind } },
        h('p', {}, h('strong', { text: c.name }), ` · waits for ${what}${where}`,
          c.attached_to ? (c.interrupting ? ' (interrupting)' : ' (non-interrupting)') : ''),
        payload,
        h('button', { type: 'button', class: 'dry-throw', text: verb, onclick: () => {
          let p; try { p = JSON.parse(payload.value || '{}'); } catch (err) { this.dryError('The variables are not JSON.'); return; }
          this.dryStep({ action: 'throw', element: c.element_id, payload: p });
        } }));
    }

    nameOf(id) {
      const el = this.registry.get(id);
      return (el && el.businessObject.name) || id;
    }

    dryConnector(call) {
      const data = h('input', { type: 'text', value: '{}', 'aria-label': `Result of ${call.name}` });
      return h('div', { class: 'pp-card' }, h('p', {}, h('strong', { text: call.name }),
        ` · ${call.method} ${call.url} (not called in a dry run: give the variables it would set)`), data,
      h('button', { type: 'button', text: 'Complete', onclick: () => {
        let p; try { p = JSON.parse(data.value || '{}'); } catch (err) { this.dryError('The result is not JSON.'); return; }
        this.dryStep({ action: 'connector', task: call.id, data: p });
      } }));
    }

    dryExternal(task) {
      const data = h('input', { type: 'text', value: '{}', 'aria-label': `Variables of ${task.name}` });
      const code = h('input', { type: 'text', value: '', placeholder: 'error code', 'aria-label': `BPMN error of ${task.name}` });
      const send = (withError) => {
        let p; try { p = JSON.parse(data.value || '{}'); } catch (err) { this.dryError('The variables are not JSON.'); return; }
        const step = { action: 'external', task: task.id, data: p };
        if (withError) step.error_code = code.value;
        this.dryStep(step);
      };
      return h('div', { class: 'pp-card dry-external', dataset: { element: task.element_id } },
        h('p', {}, h('strong', { text: task.name }), ' · external task, topic ', h('code', { text: task.topic }), ' (a worker does it: give the variables it would send)'),
      data, h('button', { type: 'button', text: 'Complete', onclick: () => send(false) }),
      code, h('button', { type: 'button', text: 'Throw BPMN error', onclick: () => send(true) }));
    }

    markPath() {
      this.clearMarkers();
      const d = this.dry;
      const visited = new Set(d.path);
      const order = new Map(d.path.map((id, i) => [id, i]));
      const add = (id, cls) => {
        if (!this.registry.get(id)) return;
        this.canvas.addMarker(id, cls);
        this.marked.push([id, cls]);
      };
      for (const id of visited) add(id, 'pmoflow-path');
      for (const el of this.registry.filter((e) => e.type === 'bpmn:SequenceFlow')) {
        const s = el.businessObject.sourceRef && el.businessObject.sourceRef.id;
        const t = el.businessObject.targetRef && el.businessObject.targetRef.id;
        if (visited.has(s) && visited.has(t) && d.path.some((id, i) => id === s && d.path.slice(i + 1).includes(t))
            && order.has(t)) add(el.id, 'pmoflow-path');
      }
      for (const t of d.open_tasks) add(t.element_id, 'pmoflow-open');
      const inside = [...d.open_tasks, ...(d.external_tasks || []), ...(d.catches || []), ...d.timers];
      const entered = new Set();                   // the sub-processes a token is in now
      for (const t of inside) {
        for (let el = this.registry.get(t.element_id); el && el.parent; el = el.parent) {
          if (el.parent.businessObject && ['bpmn:SubProcess', 'bpmn:Transaction'].includes(el.parent.type)) {
            entered.add(el.parent.id);
          }
        }
      }
      for (const id of entered) add(id, 'pmoflow-inside');
      for (const t of d.timers) add(t.element_id, 'pmoflow-waiting');
      for (const c of d.catches || []) add(c.element_id, 'pmoflow-waiting');
      for (const t of d.external_tasks || []) add(t.element_id, 'pmoflow-open');
    }

    clearMarkers() {
      for (const [id, cls] of this.marked) {
        if (this.registry.get(id)) this.canvas.removeMarker(id, cls);
      }
      this.marked = [];
    }
  }

  function newDecisionTable(id, name) {
    const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
    return `<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" xmlns:dmndi="https://www.omg.org/spec/DMN/20191111/DMNDI/" xmlns:dc="http://www.omg.org/spec/DMN/20180521/DC/" id="Definitions_${id}" name="${esc(name)}" namespace="https://pmoflow.dev/decisions">
  <decision id="${id}" name="${esc(name)}">
    <decisionTable id="DecisionTable_${id}" hitPolicy="FIRST">
      <input id="Input_${id}_1" label="Input">
        <inputExpression id="InputExpression_${id}_1" typeRef="string">
          <text>input</text>
        </inputExpression>
      </input>
      <output id="Output_${id}_1" label="Result" name="result" typeRef="string"/>
      <rule id="Rule_${id}_1">
        <inputEntry id="InputEntry_${id}_1"><text>-</text></inputEntry>
        <outputEntry id="OutputEntry_${id}_1"><text>"todo"</text></outputEntry>
      </rule>
    </decisionTable>
  </decision>
  <dmndi:DMNDI><dmndi:DMNDiagram id="DMNDiagram_${id}"><dmndi:DMNShape id="DMNShape_${id}" dmnElementRef="${id}"><dc:Bounds height="80" width="180" x="160" y="100"/></dmndi:DMNShape></dmndi:DMNDiagram></dmndi:DMNDI>
</definitions>
`;
  }

  const mounted = new WeakMap();

  window.pmoflowPanel = {
    /** For panel-execution.js: the panel class, its DOM helpers and the list of section builders. */
    parts: { Panel, SECTIONS, h, field, select, section, readDuration },
    /** Mount the panel for `modeler` in `target` (the aside, or a diagram element: then #properties-panel) once. */
    mount(modeler, target, context) {
      const isAside = typeof Node !== 'undefined' && target instanceof Node;
      let panel = mounted.get(modeler);
      if (panel) return panel;                   // it follows the selection itself from now on
      const aside = isAside ? target : document.getElementById('properties-panel');
      if (!aside) throw new Error('no element to hold the properties panel (#properties-panel)');
      panel = new Panel(modeler, aside, context);
      mounted.set(modeler, panel);
      if (!isAside && target && target.businessObject && target !== modeler.get('canvas').getRootElement()) {
        panel.show(target);
      }
      return panel;
    },
    newDecisionTable,
  };
}());
