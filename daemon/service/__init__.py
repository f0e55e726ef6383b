"""`collabd run`: the long-running service. One process watches the mailbox, runs the rule
ticks and sends the outbox; several of them can share one PostgreSQL ledger.

    notify.py     sd_notify over $NOTIFY_SOCKET (READY, STOPPING, WATCHDOG, STATUS)
    logs.py       one event per line, with the fields that matter, journald-friendly
    locks.py      exactly one replica watches each mailbox (advisory lock / flock)
    leases.py     shared periodic work claimed by one replica (FOR UPDATE SKIP LOCKED)
    replicas.py   each replica's heartbeat and last sync / tick / send, for `collabd status`
    journal.py    settling sends whose outcome a crash left unknown, without sending twice
    runner.py     the main loop, its one shutdown path and SIGHUP reload
    health.py     what `collabd status` reports, and when that is unhealthy
"""
