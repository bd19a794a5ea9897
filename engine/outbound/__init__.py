"""Everything pmoflow sends out of the process: HTTP requests through one guarded client
(`client`), checked by one address policy (`policy`), and email over SMTP (`smtp`).
See README.md in this folder for what it owns and who may import it."""
