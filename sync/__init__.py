"""flightlog.sync: the server (receiving end) and the uploader (sending end)."""
