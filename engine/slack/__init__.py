"""The Slack app's own parts, shared by what pmoflow tells Slack (engine/notify/slack_dm.py: task messages
as direct messages) and what Slack tells pmoflow (engine/integration/slack: clicks, the reject dialog,
`/pmoflow`); see README.md here.

- `api`: Slack's Web API called through engine/outbound (the guarded client), never through
  slack_sdk's WebClient (urllib: proxies from the environment, redirects followed, no address policy);
- `blocks`: the Block Kit messages and the reject dialog, built with slack_sdk's models, and the
  escaping of mrkdwn text every Slack message uses;
- `accounts`: which Slack user a pmoflow user is (verified email, or a one-time link).
"""
