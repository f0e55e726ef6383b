"""The conversation coming in: ingest reads each mail in its own savepoint, the route table
sends it to a handler, and reading.py works out what a person's reply answers and who sent
it. Sits above the domain packages; they never import it."""
