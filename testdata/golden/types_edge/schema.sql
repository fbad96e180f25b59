CREATE TABLE t (id INT PRIMARY KEY, tm3 TIME(3), tm0 TIME, yr YEAR, en ENUM('x,y','it''s','z'));
