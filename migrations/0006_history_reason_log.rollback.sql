DROP TRIGGER report_history_reasons_append_only ON report_history_reasons;
DROP FUNCTION report_history_reasons_guard();
DROP TRIGGER report_history_reason_logged ON report_history;
DROP FUNCTION log_report_history_reason();
DROP TABLE report_history_reasons;
