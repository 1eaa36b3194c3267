-- Forget the quarantined rows of one source (before its new ones are written).
DELETE FROM movrec.quarantine WHERE source = %(source)s;
