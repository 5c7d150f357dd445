-- The location of a screen set by hand (issue 12, the console's map), in
-- units of 10^-7 degree as OpenStreetMap keeps coordinates (integers: exact
-- in both backends, about 1 cm). NULL: the screen is placed by the address
-- it was last seen from (geoip_database), looked up when it is shown.
ALTER TABLE screens ADD COLUMN location_lat_e7 INTEGER;
ALTER TABLE screens ADD COLUMN location_lon_e7 INTEGER;
