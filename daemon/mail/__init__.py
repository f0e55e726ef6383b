"""Mail in and mail out: transports, reading replies, composing and queueing mail."""
