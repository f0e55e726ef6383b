"""Closing the loop: deliverables, acceptance (成果验收) and the retrospective (复盘)."""
