from mobilebert_tf.summary import parameter_table


def test_parameter_table_reports_built_counts():
    table = parameter_table(["mobilebert_mini", "bert_mini"], seq_length=128)
    lines = table.splitlines()
    assert lines[0].split("|")[0].strip() == "preset" and len(lines) == 4
    mini = next(line for line in lines if line.strip().startswith("mobilebert_mini"))
    assert "1,270,720" in mini and "2,977,402" in mini
