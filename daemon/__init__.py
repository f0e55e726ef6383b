"""collabd: cross-department collaboration by email and calendar.

The package tree follows the flow of work, layered top to bottom (tests/test_layers.py):

    cli/       the `collabd` command          demo/      the guided tour
    service/   the daemon (`collabd run`)     inbound/   mail in: ingest, routes, replies
    rules/ calendar/ minutes/ closing/ archive/ announce/   the domain
    ledger/    operations on the ledger       app.py     wiring
    mail/      mail mechanics                 store/ config/   the ledger's tables; settings
"""

__version__ = "0.1.0"
