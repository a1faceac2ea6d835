-- name: migrations_record
-- params: version UInt32, name String
-- returns: nothing; records one applied migration
INSERT INTO schema_migrations (version, name) VALUES ({version:UInt32}, {name:String})
