"""User-task forms: form-js ("Camunda Forms") schemas, checked at deploy time and enforced on submit.

The server's validation is authoritative; the tasklist renders the same schema with form-js.

Decisions, so that callers and form authors know what to expect:

- Input types: textfield, textarea, number, checkbox, checklist, radio, select, taglist, datetime.
  Containers: ``group`` (its fields sit beside the group's siblings, or under ``path`` when it has
  one) and ``dynamiclist`` (a list of objects under its required ``path``). Display-only types
  carry no data.
- ``expression`` is refused by `check_form`: it is computed in the browser with FEEL, which the
  server cannot recompute (accepting the browser's value would let a client write anything).
  ``multipage``/``page`` are refused too. Compute derived values in a script task instead.
- ``filepicker`` takes ``{"name", "size"}``: the engine stores the upload as an attachment of the
  request in the same step and keeps ``{"attachment", "name", "size"}`` in the task data.
- Keys name process variables: an identifier, or words separated by single spaces (``Vacation
  Approval``, as Trisotech and FEEL write them; expressions read it with ``var('Vacation
  Approval')``), or several of those joined by dots (``Current Vacation Status.name``), which,
  as in form-js, is a path into nested objects: the value is read from and submitted as
  ``{"Current Vacation Status": {"name": ...}}`` (the flat dotted key is accepted too). No part
  may start with ``_`` (such keys could shadow the sandbox's builtins); a key and a path through
  it (``a`` and ``a.b``) may not both be fields. ``path`` of groups and lists stays an identifier.
- ``disabled``, ``readonly`` and ``conditional.hide`` set to ``true`` make a field inactive:
  values submitted for it are ignored (form-js itself may send readonly values) and it is never
  required. Expressions in ``disabled``/``readonly`` are refused (the server cannot evaluate
  FEEL). A ``conditional.hide`` expression is left to the browser; a field carrying one may not
  be ``validate.required`` (use ``properties["pmoflow:requiredWhen"]`` instead), since the server
  could not tell whether the field was shown.
- ``properties["pmoflow:requiredWhen"]`` is a Python expression; when ``evaluate(expression,
  values)`` is truthy the empty field is an error. ``values`` are the cleaned submitted values
  (for fields in a ``path`` group or a list item, the outer values overlaid with that scope's).
  Without an ``evaluate`` only ``key == literal`` and ``key != literal`` are understood; anything
  else raises ValueError (a deployment problem, not the user's). Errors of ``evaluate`` propagate.
- Dates and times stay ISO strings (``date`` objects do not serialize); numbers become int/float.
  ``disallowPassedDates`` is checked in the browser only (it needs a clock and a time zone).
- Error keys are field keys; nested ones read ``group.key`` and ``items[0].key``.

Modules: `components` (types, settings, accessors), `checks` (deploy time: `load_form`,
`check_form`), `values` (one cleaner per component type), `submission` (`validate_submission`,
`value_at`).
"""
