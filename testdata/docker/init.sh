#!/bin/sh
# Runs once, at MySQL's first start: the cachesync user with the least
# privileges it needs (password from the environment, never in a file).
set -eu
mysql -uroot -p"$MYSQL_ROOT_PASSWORD" <<SQL
CREATE USER 'cachesync'@'%' IDENTIFIED BY '${CACHESYNC_MYSQL_PASSWORD}';
GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'cachesync'@'%';
GRANT SELECT ON shop.* TO 'cachesync'@'%';
SQL
