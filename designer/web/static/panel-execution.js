/* pmoflow designer: the side panel's sections for what the engine runs beyond forms and lanes.
 *
 * Loaded after panel.js; adds to its Panel class (window.pmoflowPanel.parts) the sections for
 * sub-processes (embedded, event sub-process, transaction; expanded or collapsed), events of every
 * kind (signal, error, escalation, conditional; interrupting or not), multi-instance and loops,
 * service tasks run by an external system's worker (pmoflow:topic) and who works a task outside
 * any lane (pmoflow:assignment on the task, and the process's default group).
 *
 * What it writes is what engine/spiff/parsing.py reads: standard BPMN 2.0 (loopDataInputRef and
 * loopDataOutputRef name variables, inputDataItem / outputDataItem ids are the element variables,
 * as SpiffWorkflow reads them) plus the attributes of designer/pmoflow.json.
 */
(function () {
  'use strict';

  const { Panel, SECTIONS, h, field, select, section } = window.pmoflowPanel.parts;

  const ACTIVITY_LOOPS = [['', 'Once'], ['parallel', 'For each item, all at once (parallel multi-instance)'],
    ['sequential', 'For each item, one after another (sequential multi-instance)'],
    ['loop', 'Again and again while a condition holds (loop)']];
  const SUBPROCESS_KINDS = [['embedded', 'Embedded sub-process'], ['event', 'Event sub-process (starts on an event)'],
    ['transaction', 'Transaction (cancel end event undoes it)']];
  const REFS = {
    'bpmn:SignalEventDefinition': { ref: 'signalRef', type: 'bpmn:Signal', key: 'name', title: 'Signal',
      label: 'Signal name', name: 'signal-name', placeholder: 'e.g. budget_frozen',
      help: 'A thrown signal reaches every instance waiting for it (POST /api/v1/signals sends one from outside).' },
    'bpmn:ErrorEventDefinition': { ref: 'errorRef', type: 'bpmn:Error', key: 'errorCode', title: 'Error',
      label: 'Error code', name: 'error-code', placeholder: 'e.g. VENDOR_REJECTED',
      help: 'A catching error event with no code catches every error.' },
    'bpmn:EscalationEventDefinition': { ref: 'escalationRef', type: 'bpmn:Escalation', key: 'escalationCode',
      title: 'Escalation', label: 'Escalation code', name: 'escalation-code', placeholder: 'e.g. OVER_BUDGET',
      help: 'A catching escalation event with no code catches every escalation.' },
  };

  const CAMUNDA_NS = 'http://camunda.org/schema/1.0/bpmn';
  const is = (bo, type) => !!bo && typeof bo.$instanceOf === 'function' && bo.$instanceOf(type);
  const list = (text) => String(text || '').split(',').map((s) => s.trim()).filter(Boolean);

  Object.assign(Panel.prototype, {

    // -------------------------------------------------------------- events

    /** The settings of each event definition (signal, error, escalation, conditional) and interrupting. */
    eventSections(element) {
      const bo = this.bo(element);
      for (const def of bo.eventDefinitions || []) {
        if (REFS[def.$type]) this.refSection(element, def, REFS[def.$type]);
        if (def.$type === 'bpmn:ConditionalEventDefinition') this.conditionalSection(element, def);
        if (def.$type === 'bpmn:LinkEventDefinition') this.linkSection(element, def);
      }
      const kinds = (bo.eventDefinitions || []).map((d) => d.$type);
      if (bo.$type === 'bpmn:BoundaryEvent') {
        const always = kinds.includes('bpmn:ErrorEventDefinition');
        const box = h('input', { type: 'checkbox', name: 'event-interrupting', checked: bo.cancelActivity !== false,
          disabled: always });
        box.addEventListener('change', () => this.write(() => this.modeling.updateProperties(element,
          { cancelActivity: box.checked })));
        this.propsBox.append(section('When it happens', h('label', { class: 'pp-check' }, box,
          ' Stops the activity it sits on (interrupting)'),
        h('p', { class: 'pp-help', text: always ? 'An error always stops the activity.'
          : 'Without it, the activity goes on and the event\'s path runs beside it.' })));
      }
      if (bo.$type === 'bpmn:StartEvent' && bo.$parent && bo.$parent.triggeredByEvent && kinds.length) {
        const box = h('input', { type: 'checkbox', name: 'event-interrupting', checked: bo.isInterrupting !== false });
        box.addEventListener('change', () => this.write(() => this.modeling.updateProperties(element,
          { isInterrupting: box.checked })));
        this.propsBox.append(section('When it happens', h('label', { class: 'pp-check' }, box,
          ' Stops the rest of the enclosing process (interrupting)')));
      }
    },

    /** A signal, error or escalation: its name or code, shared by every event that names the same one. */
    refSection(element, def, o) {
      const current = def.get(o.ref);
      const input = h('input', { type: 'text', name: o.name, value: current ? current.get(o.key) : '',
        placeholder: o.placeholder });
      input.addEventListener('change', () => {
        const value = input.value.trim();
        const definitions = this.modeler.getDefinitions();
        let ref = (definitions.rootElements || []).find((r) => r.$type === o.type && r.get(o.key) === value);
        this.write(() => {
          if (!ref && value) {
            ref = this.bpmnFactory.create(o.type, { [o.key]: value, ...(o.key === 'name' ? {} : { name: value }) });
            ref.$parent = definitions;
            this.modeling.updateModdleProperties(element, definitions,
              { rootElements: [...definitions.get('rootElements'), ref] });
          }
          this.modeling.updateModdleProperties(element, def, { [o.ref]: value ? ref : undefined });
        });
      });
      this.propsBox.append(section(o.title, field(o.label, input, o.help)));
    },

    /** A link: a throwing link event continues at the catching one of the same name. */
    linkSection(element, def) {
      const input = h('input', { type: 'text', name: 'link-name', value: def.name, placeholder: 'e.g. to_review' });
      input.addEventListener('change', () => this.write(() => this.modeling.updateModdleProperties(element, def,
        { name: input.value.trim() || undefined })));
      this.propsBox.append(section('Link', field('Link name', input,
        'The flow goes on at the catching link event of the same name (in the same process).')));
    },

    conditionalSection(element, def) {
      const text = h('textarea', { name: 'event-condition', rows: 2, spellcheck: 'false',
        value: (def.condition && def.condition.body) || '', placeholder: 'e.g. budget_left < 0' });
      const error = h('p', { class: 'pp-error', role: 'alert', hidden: true });
      text.addEventListener('change', async () => {
        const body = text.value.trim();
        const { ok, data } = await this.post(this.ctx.urls.conditionsParse, { expression: body });
        if (body && ok && data.problem) { error.hidden = false; error.textContent = `Not saved: ${data.problem}`; return; }
        error.hidden = true;
        this.write(() => this.modeling.updateModdleProperties(element, def,
          { condition: body ? this.moddle.create('bpmn:FormalExpression', { body }) : undefined }));
      });
      this.propsBox.append(section('Condition', field('Fires when (Python expression over the variables)', text,
        'Checked whenever the variables change.'), error));
    },

    // -------------------------------------------------------------- sub-processes

    subProcessSection(element) {
      const bo = this.bo(element);
      const now = bo.$type === 'bpmn:Transaction' ? 'transaction' : (bo.triggeredByEvent ? 'event' : 'embedded');
      const expanded = !element.collapsed;
      const kind = select(SUBPROCESS_KINDS, now, { name: 'subprocess-kind' });
      kind.addEventListener('change', () => this.replaceWith(element, {
        type: kind.value === 'transaction' ? 'bpmn:Transaction' : 'bpmn:SubProcess',
        triggeredByEvent: kind.value === 'event' || undefined, isExpanded: expanded }));
      const toggle = h('button', { type: 'button', class: 'pp-secondary', id: 'pp-subprocess-expand',
        text: expanded ? 'Collapse (draw as one box)' : 'Expand (draw its inside here)',
        onclick: () => this.replaceWith(element, { type: bo.$type, triggeredByEvent: bo.triggeredByEvent || undefined,
          isExpanded: !expanded }) });
      this.propsBox.append(section('Sub-process', field('Kind', kind), h('div', { class: 'pp-row' }, toggle),
        h('p', { class: 'pp-help', text: now === 'event'
          ? 'An event sub-process has no flows in or out: its start event (timer, message, signal, error, '
            + 'escalation or conditional) starts it while the enclosing process runs.'
          : 'Its inside runs when the token arrives; events on its border catch what happens inside.' })));
    },

    replaceWith(element, target) {
      let next = null;
      try {
        next = this.write(() => this.modeler.get('bpmnReplace').replaceElement(element, target));
      } catch (err) {                              // a modelling rule refused it: say so, change nothing
        this.show(element, true);
        this.propsBox.append(h('p', { class: 'pp-error', role: 'alert', text: `Not changed: ${err.message || err}` }));
        return;
      }
      if (next) this.modeler.get('selection').select(next);
      this.show(next || element, true);
    },

    // -------------------------------------------------------------- multi-instance and loops

    loopSection(element) {
      const bo = this.bo(element);
      const lc = bo.loopCharacteristics;
      const now = !lc ? '' : (lc.$type === 'bpmn:StandardLoopCharacteristics' ? 'loop'
        : (lc.isSequential ? 'sequential' : 'parallel'));
      const kind = select(ACTIVITY_LOOPS, now, { name: 'loop-kind' });
      kind.addEventListener('change', () => {
        this.write(() => {
          if (!kind.value) { this.modeling.updateProperties(element, { loopCharacteristics: undefined }); return; }
          if (kind.value === 'loop') {
            this.modeling.updateProperties(element, { loopCharacteristics:
              this.bpmnFactory.create('bpmn:StandardLoopCharacteristics', { loopMaximum: 10 }) });
            return;
          }
          const sequential = kind.value === 'sequential';
          if (lc && lc.$type === 'bpmn:MultiInstanceLoopCharacteristics') {
            this.modeling.updateModdleProperties(element, lc, { isSequential: sequential });
          } else {
            this.modeling.updateProperties(element, { loopCharacteristics:
              this.bpmnFactory.create('bpmn:MultiInstanceLoopCharacteristics', { isSequential: sequential }) });
          }
        });
        this.show(element, true);
      });
      const box = section('Repeat', field('Runs', kind));
      this.propsBox.append(box);
      if (now === 'loop') this.standardLoopFields(element, lc, box);
      else if (now) this.multiInstanceFields(element, lc, box);
    },

    multiInstanceFields(element, lc, box) {
      const camunda = (name) => String((lc.$attrs || {})[`camunda:${name}`] || '').replace(/^\$\{(.*)\}$/, '$1');
      const ref = (prop) => { const r = lc.get(prop); return r ? (r.id || '') : ''; };
      const expr = (prop) => { const e = lc.get(prop); return (e && e.body) || ''; };
      const byCount = !!lc.loopCardinality && !lc.loopDataInputRef;
      const source = select([['collection', 'one per item of a list variable'], ['count', 'a number of times']],
        byCount ? 'count' : 'collection', { name: 'mi-source' });
      const collection = h('input', { type: 'text', name: 'mi-collection',
        value: ref('loopDataInputRef') || camunda('collection'),
        placeholder: 'e.g. reviewers' });
      const cardinality = h('input', { type: 'text', name: 'mi-cardinality', value: expr('loopCardinality'),
        placeholder: 'e.g. 3, or len(vendors)' });
      const element_ = h('input', { type: 'text', name: 'mi-element', value: ref('inputDataItem') || camunda('elementVariable'),
        placeholder: 'e.g. reviewer' });
      const output = h('input', { type: 'text', name: 'mi-output', value: ref('loopDataOutputRef'),
        placeholder: 'e.g. reviews' });
      const outputItem = h('input', { type: 'text', name: 'mi-output-element', value: ref('outputDataItem'),
        placeholder: 'e.g. review' });
      const completion = h('input', { type: 'text', name: 'mi-completion', value: expr('completionCondition'),
        placeholder: 'e.g. review == "reject"' });
      const sync = () => {
        collection.parentElement.hidden = source.value !== 'collection';
        cardinality.parentElement.hidden = source.value !== 'count';
      };
      const variable = (value, type) => (value ? this.moddle.create(type, { id: value, name: value }) : undefined);
      const formal = (value) => (value ? this.moddle.create('bpmn:FormalExpression', { body: value }) : undefined);
      const apply = () => {
        sync();
        const attrs = {
          loopDataInputRef: source.value === 'collection' && collection.value.trim()
            ? this.moddle.create('bpmn:ItemAwareElement', { id: collection.value.trim() }) : undefined,
          loopCardinality: source.value === 'count' ? formal(cardinality.value.trim()) : undefined,
          inputDataItem: variable(element_.value.trim(), 'bpmn:DataInput'),
          loopDataOutputRef: output.value.trim()
            ? this.moddle.create('bpmn:ItemAwareElement', { id: output.value.trim() }) : undefined,
          outputDataItem: variable(outputItem.value.trim(), 'bpmn:DataOutput'),
          completionCondition: formal(completion.value.trim()),
        };
        for (const v of Object.values(attrs)) if (v && v.$type !== 'bpmn:ItemAwareElement') v.$parent = lc;
        // Camunda Modeler and Camunda 7 read the collection from these (bpmn-js tools drop a loopDataInputRef
        // naming no element); the engine reads the standard elements first (engine/spiff/camunda.py)
        const definitions = this.modeler.getDefinitions();
        if (!Object.values(definitions.$attrs || {}).includes(CAMUNDA_NS)) definitions.$attrs['xmlns:camunda'] = CAMUNDA_NS;
        attrs['camunda:collection'] = (attrs.loopDataInputRef && attrs.loopDataInputRef.id) || undefined;
        attrs['camunda:elementVariable'] = element_.value.trim() || undefined;
        this.write(() => this.modeling.updateModdleProperties(element, lc, attrs));
      };
      for (const c of [source, collection, cardinality, element_, output, outputItem, completion]) {
        c.addEventListener('change', apply);
      }
      box.append(field('How many', source), field('List variable (one instance per item)', collection),
        field('Number of instances (a number or an expression)', cardinality),
        field('Each instance sees its item as', element_, 'A variable name; it must differ from every id of the '
          + 'diagram (it is written as the id of the inputDataItem).'),
        field('Collect the results into the list', output),
        field('from each instance\'s variable', outputItem),
        field('Stop early when (condition, optional)', completion));
      sync();
    },

    standardLoopFields(element, lc, box) {
      const condition = h('input', { type: 'text', name: 'loop-condition',
        value: (lc.loopCondition && lc.loopCondition.body) || '', placeholder: 'e.g. not approved' });
      const maximum = h('input', { type: 'number', min: 1, name: 'loop-maximum', value: lc.loopMaximum });
      const apply = () => this.write(() => this.modeling.updateModdleProperties(element, lc, {
        loopCondition: condition.value.trim()
          ? this.moddle.create('bpmn:FormalExpression', { body: condition.value.trim() }) : undefined,
        loopMaximum: maximum.value ? Number(maximum.value) : undefined }));
      condition.addEventListener('change', apply);
      maximum.addEventListener('change', apply);
      box.append(field('Loop condition', condition), field('At most (times)', maximum));
    },

    // -------------------------------------------------------------- service tasks

    serviceSection(element) {
      const bo = this.bo(element);
      const topicNow = bo.get('pmoflow:topic');
      const now = topicNow ? 'topic' : 'connector';
      const kind = select([['connector', 'pmoflow calls an HTTP endpoint'],
        ['topic', 'An external system\'s worker does it (external task)']], now, { name: 'service-kind' });
      kind.addEventListener('change', () => {
        if (kind.value === 'topic') {
          this.setExt(element, bo, 'pmoflow:Connector', null);
          this.write(() => this.modeling.updateProperties(element,
            { 'pmoflow:topic': bo.get('pmoflow:topic') || String(bo.name || bo.id).toLowerCase().replace(/\W+/g, '-') }));
        } else {
          this.write(() => this.modeling.updateProperties(element, { 'pmoflow:topic': undefined }));
        }
        this.show(element, true);
      });
      this.propsBox.append(section('How it runs', field('The work', kind)));
      if (now === 'connector') { this.connectorSection(element); return; }
      const topic = h('input', { type: 'text', name: 'service-topic', value: topicNow, placeholder: 'e.g. erp-sync' });
      topic.addEventListener('change', () => {
        if (topic.value.trim()) {
          this.write(() => this.modeling.updateProperties(element, { 'pmoflow:topic': topic.value.trim() }));
        }
      });
      this.propsBox.append(section('External task', field('Topic', topic, 'A system\'s worker fetches and locks '
        + 'tasks of this topic (POST /api/v1/external-tasks/fetch-and-lock), then completes them with variables '
        + 'or reports a BPMN error.')));
    },

    // -------------------------------------------------------------- call activities

    callSection(element) {
      const bo = this.bo(element);
      const called = h('input', { type: 'text', name: 'call-process', value: bo.calledElement,
        placeholder: 'the called process\'s id (key)' });
      const binding = select([['', 'The latest version (when this one is published)'],
        ['deployment', 'The one published with this process'], ['version', 'A given version']],
      bo.get('pmoflow:binding') === 'latest' ? '' : bo.get('pmoflow:binding'), { name: 'call-binding' });
      const version = h('input', { type: 'number', min: 1, name: 'call-version', value: bo.get('pmoflow:version') });
      const sync = () => { version.parentElement.hidden = binding.value !== 'version'; };
      const apply = () => {
        sync();
        this.write(() => this.modeling.updateProperties(element, {
          calledElement: called.value.trim() || undefined, 'pmoflow:binding': binding.value || undefined,
          'pmoflow:version': binding.value === 'version' && version.value ? String(version.value) : undefined }));
      };
      for (const c of [called, binding, version]) c.addEventListener('change', apply);
      this.propsBox.append(section('Called process', field('Process', called), field('Which version', binding),
        field('Version', version)));
      sync();
    },

    // -------------------------------------------------------------- who works a task

    assignmentSection(element) {
      const bo = this.bo(element);
      const a = this.ext(bo, 'pmoflow:Assignment');
      const groups = h('input', { type: 'text', name: 'assign-groups', value: a && a.candidateGroups,
        list: 'pp-groups', placeholder: 'e.g. Finance, PMO' });
      const users = h('input', { type: 'text', name: 'assign-users', value: a && a.candidateUsers,
        placeholder: 'e.g. alice, bob' });
      const assignee = h('input', { type: 'text', name: 'assign-assignee', value: a && a.assignee,
        placeholder: 'a user name, or ${owner} for a variable' });
      const offered = h('p', { class: 'pp-help', id: 'pp-offered-to', text: this.offeredTo(element) });
      const apply = () => {
        const attrs = { candidateGroups: list(groups.value).join(', ') || undefined,
          candidateUsers: list(users.value).join(', ') || undefined, assignee: assignee.value.trim() || undefined };
        this.setExt(element, bo, 'pmoflow:Assignment',
          Object.values(attrs).some(Boolean) ? attrs : null);
        offered.textContent = this.offeredTo(element);
      };
      for (const c of [groups, users, assignee]) c.addEventListener('change', apply);
      this.propsBox.append(section('Who does it', this.groupList(), offered,
        field('Candidate groups', groups), field('Candidate users', users), field('Assignee', assignee)));
    },

    groupList() {
      const old = document.getElementById('pp-groups');
      if (old) old.remove();
      return h('datalist', { id: 'pp-groups' }, this.groups.map((g) => h('option', { value: g })));
    },

    /** Who will be offered the task, as the engine decides (engine/spiff/assignment.py): its own candidate
     *  groups, else its lane's group, else (when it names no candidate users either) the process's default
     *  group, else the deployment's. */
    offeredTo(element) {
      const bo = this.bo(element);
      const a = this.ext(bo, 'pmoflow:Assignment');
      const attrs = bo.$attrs || {};
      const own = (name) => (a && a.get(name)) || Object.keys(attrs).filter((k) => k.endsWith(`:${name}`))
        .map((k) => attrs[k])[0];
      const users = list(own('candidateUsers'));
      let groups = list(own('candidateGroups'));
      let source = 'its own candidate groups';
      const lane = this.laneOf(bo);
      if (!groups.length && lane) { groups = [lane.name || lane.id]; source = 'the group of its lane'; }
      if (!groups.length && !users.length) {
        const process = this.processOf(null);
        const fallback = process && this.ext(process, 'pmoflow:Assignment');
        if (fallback && list(fallback.candidateGroups).length) {
          groups = [list(fallback.candidateGroups)[0]]; source = 'the process\'s default group';
        } else {
          groups = [this.defaultGroup || 'the deployment\'s default group']; source = 'the deployment\'s default';
        }
      }
      const parts = [];
      if (own('assignee')) parts.push(`assigned to ${own('assignee')}`);
      if (groups.length) parts.push(`group ${groups.join(', ')} (${source})`);
      if (users.length) parts.push(`user(s) ${users.join(', ')}`);
      return `Offered to ${parts.join('; ')}.`;
    },

    laneOf(bo) {
      for (let node = bo; node; node = node.$parent) {
        const lane = this.registry.filter((e) => e.type === 'bpmn:Lane'
          && (e.businessObject.flowNodeRef || []).includes(node) && !e.businessObject.childLaneSet)[0];
        if (lane) return lane.businessObject;
      }
      return null;
    },

    processDefaultSection(element) {
      const process = this.processOf(element);
      if (!process) return;
      const target = element.businessObject.$type === 'bpmn:Process' ? element
        : (this.registry.filter((e) => e.businessObject.processRef === process)[0] || element);
      const current = this.ext(process, 'pmoflow:Assignment');
      const value = (current && current.candidateGroups) || '';
      const options = [['', this.defaultGroup ? `(the deployment's default: ${this.defaultGroup})`
        : '(the deployment\'s default)'], ...this.groups.map((g) => [g, g])];
      if (value && !this.groups.includes(value)) options.push([value, `${value} (no such group yet)`]);
      const pick = select(options, value, { name: 'process-default-group' });
      pick.addEventListener('change', () => this.setExt(target, process, 'pmoflow:Assignment',
        pick.value ? { candidateGroups: pick.value } : null));
      this.propsBox.append(section('Tasks outside lanes', field('Default group', pick,
        'A user or manual task that is in no lane and names no candidates is offered to this group.')));
    },
  });

  SECTIONS.push(function executionSections(element) {
    const bo = this.bo(element);
    const type = bo.$type;
    if (['bpmn:Process', 'bpmn:Collaboration', 'bpmn:Participant'].includes(type)) this.processDefaultSection(element);
    if (type === 'bpmn:UserTask' || type === 'bpmn:ManualTask') this.assignmentSection(element);
    if (type === 'bpmn:ServiceTask') this.serviceSection(element);
    if (type === 'bpmn:CallActivity') this.callSection(element);
    if (type === 'bpmn:SubProcess' || type === 'bpmn:Transaction') this.subProcessSection(element);
    if ((bo.eventDefinitions || []).length) this.eventSections(element);
    if (is(bo, 'bpmn:Activity') && !(type === 'bpmn:SubProcess' && bo.triggeredByEvent)) this.loopSection(element);
  });
}());
