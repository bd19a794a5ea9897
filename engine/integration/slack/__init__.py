"""What Slack sends pmoflow: button clicks and the reject dialog (`interactions`), the `/pmoflow` slash
command (`commands`), each verified first (`verification`: the signing secret and the timestamp)."""
