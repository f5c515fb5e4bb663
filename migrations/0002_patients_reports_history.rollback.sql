DROP TRIGGER report_history_append_only ON report_history;
DROP FUNCTION report_history_guard();
DROP FUNCTION record_report_history(reports, char, bigint, text);
DROP TABLE report_history;
DROP TABLE reports;
DROP TABLE patients;
