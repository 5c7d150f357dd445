-- A channel's name is unique in its account: the CLI publishes by name.
CREATE UNIQUE INDEX channels_account_name ON channels(account_id, name);
