"""`collabd demo`: the whole product on the embedded defaults, on a simulated clock."""
