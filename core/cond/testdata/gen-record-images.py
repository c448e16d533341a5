#!/usr/bin/env python3
"""Regenerates mariadb-record-images.txt from a running MariaDB server.

Each column type is stored in a MyISAM ROW_FORMAT=FIXED table, whose data
file holds table->record[0] images as they are. The record images are read
back from the .MYD file, and the value a condition must give is computed by
the server itself. Usage:

    gen-record-images.py SOCKET DATADIR > mariadb-record-images.txt

The server must be a scratch instance: the script creates database
cond_images in it.
"""
import subprocess
import sys

SOCK, DATADIR = sys.argv[1], sys.argv[2]


def sql(stmt):
    out = subprocess.run(["mariadb", "--no-defaults", "-S", SOCK, "-uroot", "-N", "-B", "-e", stmt],
                         check=True, capture_output=True, text=True).stdout
    return [line.split("\t") for line in out.splitlines()]


INTS = [
    ("TINYINT", 1, 1, ["-128", "-1", "0", "127"]), ("TINYINT UNSIGNED", 1, 1, ["0", "200", "255"]),
    ("SMALLINT", 2, 2, ["-32768", "-2", "32767"]), ("SMALLINT UNSIGNED", 2, 2, ["65535", "32768"]),
    ("MEDIUMINT", 9, 3, ["-8388608", "-3", "8388607"]), ("MEDIUMINT UNSIGNED", 9, 3, ["16777215", "8388608"]),
    ("INT", 3, 4, ["-2147483648", "-5", "2147483647"]), ("INT UNSIGNED", 3, 4, ["4294967295", "2147483648"]),
    ("BIGINT", 8, 8, ["-9223372036854775808", "-1", "9223372036854775807"]),
    ("BIGINT UNSIGNED", 8, 8, ["18446744073709551615", "9223372036854775808", "1"]),
]
TIMES = ["'00:00:00'", "'12:34:56.123456'", "'-12:34:56.5'", "'838:59:59'", "'-838:59:59'",
         "'-00:00:00.5'", "'-00:00:01.01'", "'-00:00:00.000001'", "'100:00:01.999999'", "'800:00:00'",
         "'-34 22:59:59.99'"]
DATETIMES = ["'0000-00-00 00:00:00'", "'1000-01-01 00:00:00'", "'2024-02-29 13:45:30.987654'",
             "'9999-12-31 23:59:59.999999'", "'1970-01-01 00:00:01.000001'", "'2000-00-00 00:00:00'"]
TIMESTAMPS = ["'0000-00-00 00:00:00'", "'1970-01-01 00:00:01'", "'2023-11-14 22:13:20.5'",
              "'2038-01-19 03:14:07.999999'", "'2001-09-09 01:46:40.000001'"]


def columns():
    """(sql type, real_type, unsigned, decimals, values, expected-value expression, mysql56)"""
    for typ, code, _, vals in INTS:
        yield typ, code, "UNSIGNED" in typ, 0, vals, "c", True
    yield "YEAR", 13, False, 0, ["0", "1901", "2024", "2155"], "c+0", True
    yield "DATE", 14, False, 0, ["'0000-00-00'", "'1000-01-01'", "'2024-02-29'", "'9999-12-31'"], "c+0", True
    for mysql56 in (True, False):
        for dec in range(7):
            t = "(%d)" % dec if dec else ""
            yield ("TIME" + t, 19 if mysql56 else 11, False, dec, TIMES,
                   "CAST(TRUNCATE(c+0,0) AS SIGNED)", mysql56)
            yield ("DATETIME" + t, 18 if mysql56 else 12, False, dec, DATETIMES,
                   "CAST(TRUNCATE(c+0,0) AS SIGNED)", mysql56)
            yield ("TIMESTAMP" + t, 17 if mysql56 else 7, False, dec, TIMESTAMPS,
                   "CAST(FLOOR(UNIX_TIMESTAMP(c)) AS SIGNED)", mysql56)


def main():
    version = sql("SELECT VERSION()")[0][0]
    print("# MariaDB %s record images, made by gen-record-images.py." % version)
    print("# real_type unsigned decimals image(hex) value  # column type and inserted literal")
    sql("DROP DATABASE IF EXISTS cond_images; CREATE DATABASE cond_images")
    for n, (typ, code, unsigned, dec, vals, expr, mysql56) in enumerate(columns()):
        tbl = "t%d" % n
        # mysql56_temporal_format decides, at CREATE time, between the MySQL 5.6
        # formats (TIME2...) and the older MariaDB ones.
        sql("SET GLOBAL mysql56_temporal_format=%s; USE cond_images; CREATE TABLE %s "
            "(pre TINYINT UNSIGNED NOT NULL, c %s NOT NULL, post TINYINT UNSIGNED NOT NULL, "
            "pad CHAR(8) NOT NULL) "
            "ENGINE=MyISAM ROW_FORMAT=FIXED" % ("ON" if mysql56 else "OFF", tbl, typ))
        rows = []
        for i, v in enumerate(vals):
            sql("SET time_zone='+00:00', sql_mode=''; INSERT INTO cond_images.%s VALUES (%d, %s, 165, '')" % (tbl, i, v))
        rows = sql("SET time_zone='+00:00', sql_mode=''; SELECT pre, %s FROM cond_images.%s ORDER BY pre" % (expr, tbl))
        sql("FLUSH TABLES cond_images.%s" % tbl)
        data = open("%s/cond_images/%s.MYD" % (DATADIR, tbl), "rb").read()
        reclen = len(data) // len(vals)
        # pad keeps the record above MyISAM's minimum length, so none is added
        width = reclen - 3 - 8
        for i, (pre, want) in enumerate(rows):
            rec = data[i * reclen:(i + 1) * reclen]
            # byte 0: NULL flags (bit 0 is MyISAM's deleted marker), then pre, c, post, pad
            assert rec[1] == int(pre) == i and rec[2 + width] == 165 and rec[-8:] == b" " * 8, (typ, rec.hex())
            print("%d %d %d %s %s  # %s %s" % (code, int(unsigned), dec, rec[2:2 + width].hex(), want,
                                               typ if mysql56 or code < 7 or code > 12 else typ + " (MariaDB 5.3 format)",
                                               vals[i]))
    sql("SET GLOBAL mysql56_temporal_format=ON; DROP DATABASE cond_images")


main()
