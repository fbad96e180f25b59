-- The demo's shop: loaded by scripts/demo.sh into a private MariaDB.
CREATE DATABASE IF NOT EXISTS shop;
USE shop;

CREATE TABLE users (
  id         BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  email      VARCHAR(191) NOT NULL UNIQUE,
  name       VARCHAR(100) NOT NULL,
  updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3)
) ENGINE = InnoDB;

CREATE TABLE orders (
  id      BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  user_id BIGINT UNSIGNED NOT NULL,
  total   DECIMAL(12,2) NOT NULL,
  status  ENUM('new', 'paid', 'shipped', 'cancelled') NOT NULL DEFAULT 'new',
  KEY (user_id)
) ENGINE = InnoDB;

INSERT INTO users (id, email, name) VALUES
  (1, 'alice@example.com', 'Alice'),
  (2, 'bob@example.com',   'Bob'),
  (3, 'carol@example.com', 'Carol');

INSERT INTO orders (id, user_id, total, status) VALUES
  (1, 1, 19.90, 'paid'),
  (2, 2, 5.00,  'new');
