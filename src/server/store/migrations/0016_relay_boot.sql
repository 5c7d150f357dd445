-- Remote control: which run of a relay reported last ("boot", drawn by the
-- relay process at start). A new one means the relay restarted: the
-- sessions its earlier run had started and never reported ended are ended
-- (end_reason relay_restarted).
ALTER TABLE relays ADD COLUMN boot TEXT NOT NULL DEFAULT '';
