-- Screen share (screens/share_codes.c): the brokered share codes. A display
-- whose address is outside the private ranges cannot put it in its nine
-- digits; its player asks the server for a code instead, and the server
-- keeps which address and command port the code stands for, until it
-- expires (the player renews it). One code per screen.

CREATE TABLE share_codes (
    code_index  INTEGER PRIMARY KEY,    -- 0 .. 28,434,687: the code is 71,565,312 + this, and its check digit
    screen_id   TEXT NOT NULL UNIQUE REFERENCES screens(id) ON DELETE CASCADE,
    address     TEXT NOT NULL,          -- the display's IPv4 address, dotted
    port        INTEGER NOT NULL,       -- its command port: 7385, 29736, 2067 or 39458
    expires_at  INTEGER NOT NULL
);
CREATE INDEX share_codes_expiry ON share_codes(expires_at);
