-- Run by mariadb-install-db (--extra-file) right after the system tables are
-- created. The anonymous accounts would shadow 'u'@'%' for clients on
-- 127.0.0.1, and root@<hostname> only adds warnings under skip_name_resolve.
DELETE FROM mysql.global_priv WHERE User = '' OR (User = 'root' AND Host NOT IN ('localhost', '127.0.0.1', '::1'));
DELETE FROM mysql.proxies_priv WHERE Host NOT IN ('localhost', '127.0.0.1', '::1');
