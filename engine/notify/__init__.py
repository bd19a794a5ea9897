"""Notifications: the in-app bell (`bell`), email over SMTP and posts to Slack or Microsoft Teams
incoming webhooks, all derived from the event stream (DESIGN.md #1; see README.md here).

The outgoing ones take four steps, one module each:

- `preferences`: what each user wants (per kind and channel) and their chat webhook URLs;
- `recipients`: an event subscriber that maps event types to kinds (one table), finds who
  receives each (assignee, candidate-group members, the requester) and enqueues one job per
  recipient and channel in the event's transaction, so nothing goes out for a rolled-back step;
- `rendering`: the messages: a multipart email (HTML + text, Jinja2 with autoescape), a Slack
  `text` + `blocks` body, a Teams Adaptive Card message;
- `delivery`: the job handlers, run by the worker outside any transaction, with retries; they
  send through engine/outbound (the guarded HTTP client and its address policy; SMTP).

Addresses and webhook URLs are read when the job runs, never stored in the job.

`actions` lets people decide from the message: signed, single-use Approve / Reject links to a
confirmation page, for tasks whose form is a plain decision.
"""
