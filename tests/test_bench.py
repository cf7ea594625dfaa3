"""twinnets bench and the results-table script (common.report): structure, never speed.

No test here asserts anything about wall-clock time or throughput: those depend on the
machine and its load. What is checked: the report's structure, the PNG, the cnn's FLOP
count against a hand calculation, and the README rewriting between its markers.
"""
import json
import os

import pytest

from common import bench, configs, registry, report


def test_cnn_flops_by_hand():
    counted = bench.cnn_flops(configs.CNNConfig(), (28, 28, 1), 10)
    conv1 = 2 * 28 * 28 * 3 * 3 * 1 * 32  # 'same': 28x28 out, 3x3 kernel, 1 -> 32 channels
    conv2 = 2 * 14 * 14 * 3 * 3 * 32 * 64  # after a 2x2 pool: 14x14, 32 -> 64
    dense1 = 2 * (7 * 7 * 64) * 128  # after the second pool: 7x7x64 flattened
    dense2 = 2 * 128 * 10
    assert counted["forward_per_example"] == conv1 + conv2 + dense1 + dense2 == 8_482_304
    assert counted["train_per_example"] == 3 * counted["forward_per_example"]
    assert counted["layers"]["conv 32->64 at 14x14"] == conv2
    binary = bench.cnn_flops(configs.CNNConfig(filters=(8,)), (8, 8, 3), 2)  # one logit for two classes
    assert binary["forward_per_example"] == 2 * 8 * 8 * 9 * 3 * 8 + 2 * (4 * 4 * 8) * 128 + 2 * 128 * 1


def test_synthetic_images_have_the_mnist_shape():
    data = bench.synthetic_images(n_train=256, n_val=32, n_test=32)
    assert data.info.input_shape == (28, 28, 1) and data.batch_size == 128
    assert data.x_train.shape == (256, 28, 28, 1) and data.x_train.dtype.name == "float32"
    assert set(data.y_train) <= set(range(10))


def test_bench_cli_writes_json_and_png(tmp_path, capsys):
    from common import twinnets

    json_path, plot_path = tmp_path / "bench.json", tmp_path / "bench.png"
    code = twinnets.main(["bench", "logistic_regression", "--repeats", "1", "--epochs", "2",
                     "--json", str(json_path), "--plot", str(plot_path), "--quiet"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "tf/keras" in printed and "logistic_regression" in printed
    written = json.loads(json_path.read_text())
    assert written["repeats"] == 1 and written["epochs"] == 2
    assert set(written["rows"]) == {"keras", "tf"}
    (case,) = written["cases"]
    assert case["network"] == "logistic_regression" and case["case"] == "default"
    for row in ("keras", "tf"):
        (run,) = case["runs"][row]
        # 409 examples: a short epoch, so the bench runs SHORT_EPOCH_FACTOR times the epochs asked for
        assert len(run["epoch_seconds"]) == case["epochs_per_run"] == 2 * bench.SHORT_EPOCH_FACTOR
        assert run["samples_per_second"] > 0
        assert case["median"][row] == run["samples_per_second"]
    assert case["tf_over_keras"] == pytest.approx(case["median"]["tf"] / case["median"]["keras"])
    (target,) = written["targets"]
    assert target["target"] == "tf_over_keras_default" and target["threshold"] == 1.2
    assert target["met"] == (target["value"] >= 1.2)
    assert {"cpu", "cores", "tensorflow"} <= set(written["machine"])
    assert plot_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bench_at_a_mixed_precision_runs_both_in_it(tmp_path, capsys, monkeypatch):
    """--precision reaches every run's config; the float32-only parts (keras-io rows, peak, targets) stay out."""
    from common import twinnets

    seen = []
    real_run_row = bench.run_row
    monkeypatch.setattr(bench, "run_row", lambda row, spec, config, data: seen.append((row, config.precision))
                        or real_run_row(row, spec, config, data))
    json_path = tmp_path / "bench.json"
    code = twinnets.main(["bench", "logistic_regression", "--repeats", "1", "--epochs", "2", "--precision", "mixed_bfloat16",
                     "--json", str(json_path), "--plot", str(tmp_path / "bench.png"), "--quiet"])
    assert code == 0
    assert "mixed_bfloat16" in capsys.readouterr().out
    assert sorted(seen) == [("keras", "mixed_bfloat16"), ("tf", "mixed_bfloat16")]
    written = json.loads(json_path.read_text())
    assert written["precision"] == "mixed_bfloat16" and written["targets"] == [] and "matmul" not in written


@pytest.mark.parametrize("argv", [["bench", "no_such_net"], ["bench", "mlp", "--repeats", "0"],
                                  ["bench", "mlp", "--epochs", "1"]])
def test_bench_bad_input_is_one_line_and_exit_2(argv, tmp_path, capsys):
    from common import twinnets

    code = twinnets.main(argv + ["--json", str(tmp_path / "b.json"), "--plot", str(tmp_path / "b.png")])
    assert code == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("twinnets: error:") and "\n" not in error
    assert not (tmp_path / "b.json").exists()


def fake_compare(network, *, seeds=3, verbose=True):
    """The shape of common.compare.compare's report, without training."""
    spec = registry.get(network)
    runs = lambda value, speed: [{"seed": seed, "metric": value + 0.001 * seed, "metrics": {spec.metric: value},
                                  "train_seconds": 1.0, "samples_per_second": speed, "epochs_run": 2,
                                  "history": {"loss": [1.0, 0.5], "val_loss": [1.1, 0.6],
                                              f"val_{spec.metric}": [0.5, 0.9]}} for seed in range(seeds)]
    return {"network": network, "dataset": spec.default_dataset, "metric": spec.metric,
            "higher_is_better": spec.higher_is_better, "floor": spec.floor, "tolerance": spec.tolerance, "seeds": seeds,
            "impls": {"keras": {"runs": runs(0.97, 1000), "metric_mean": 0.971, "metric_std": 0.001},
                      "tf": {"runs": runs(0.96, 3000), "metric_mean": 0.961, "metric_std": 0.002}},
            "parity": {"difference": 0.01, "ci_low": 0.004, "ci_high": 0.016, "verdict": "equivalent", "passed": True}}


def test_report_rewrites_only_the_marked_table(tmp_path):
    readme = tmp_path / "README.md"
    before, after = "# title\n\nintro\n\n## Networks\n\n", "\n\nafter the table\n\n## Use\n"
    readme.write_text(before + "<!-- results:begin -->\n| old | table |\n<!-- results:end -->" + after)
    out_dir = tmp_path / "report"
    report.build_report(["mlp", "cnn"], seeds=2, out_dir=str(out_dir), readme=str(readme), verbose=False,
                        compare_fn=fake_compare)
    text = readme.read_text()
    assert text.startswith(before + "<!-- results:begin -->\n") and text.endswith("<!-- results:end -->" + after)
    assert "| old | table |" not in text
    lines = [line for line in text.splitlines() if line.startswith("| `")]
    assert [line.split("|")[1].strip() for line in lines] == ["`mlp`", "`cnn`"]
    cells = [cell.strip() for cell in lines[1].split("|")[1:-1]]
    assert cells[3:] == ["accuracy", "≥ 0.97", "0.9710 ± 0.0010", "0.9610 ± 0.0020",
                         "+0.0100 [+0.0040, +0.0160]", "equivalent vs ±0.02", "1,000", "3,000"]
    assert "Produced by `python -m common.report` on " in text and "cores" in text
    assert "floor MISSED" not in text
    assert sorted(os.listdir(out_dir)) == ["cnn.json", "cnn.png", "mlp.json", "mlp.png"]
    report.build_report(["mlp"], seeds=1, out_dir=str(out_dir), readme=str(readme), verbose=False,
                        compare_fn=fake_compare)  # a second run replaces the table it wrote
    assert readme.read_text().count("<!-- results:begin -->") == 1 and "`cnn`" not in readme.read_text()


def test_report_refuses_a_readme_without_markers(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# no markers\n")
    with pytest.raises(ValueError, match="results:begin"):
        report.build_report(["mlp"], readme=str(readme), out_dir=str(tmp_path / "r"), verbose=False,
                            compare_fn=fake_compare)
    assert readme.read_text() == "# no markers\n"


def test_report_shows_a_floor_miss():
    missed = fake_compare("gan", seeds=3)
    missed["impls"]["keras"]["clears_floor"] = False
    assert "**floor MISSED** by a keras seed" in report.row(missed, registry.get("gan"))
