-- requires: pg_cron
-- With pg_cron the server keeps monthly partitions ahead of time by itself; without it the lake
-- creates them on start-up and before each import batch (lake.ensure_month_partitions).

SELECT cron.schedule('lake-partitions-ahead', '0 1 * * *', 'SELECT lake.ensure_upcoming_partitions(3)');
