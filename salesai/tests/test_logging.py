import json
import logging

from salesai.logging import configure_logging


def test_a_log_line_is_one_json_object_with_its_extra_ids(capfd):
    config = configure_logging(debug=False)
    formatter_config = config["formatters"]["structured"]
    formatter = formatter_config.pop("()")(**formatter_config)
    record = logging.LogRecord("salesai.test", logging.INFO, __file__, 1, "analysis_done", None, None)
    record.account_id = 42
    record.signal_id = 7
    line = formatter.format(record)
    assert "\n" not in line
    body = json.loads(line)
    assert body["event"] == "analysis_done"
    assert body["account_id"] == 42 and body["signal_id"] == 7
    assert body["level"] == "info"
