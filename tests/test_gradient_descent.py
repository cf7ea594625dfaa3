"""`python -m common.gradient_descent`: the full-batch vs mini-batch study, on a tiny budget (issue 18)."""
import json

from common import gradient_descent


def test_full_batch_takes_one_step_per_epoch_and_the_study_writes_its_figure(module_main, tmp_path):
    code, out, err = module_main("common.gradient_descent", "--seeds", "1", "--epochs", "2", "--quiet",
                                 "--out", str(tmp_path))
    assert code == 0, err
    reports = json.loads((tmp_path / "gradient-descent.json").read_text())
    full, mini = reports["full batch"], reports["mini-batch (32)"]
    assert full["steps_per_epoch"] == 1 and mini["steps_per_epoch"] > 30
    assert full["config"]["batch_size"] > 1000 and mini["config"]["batch_size"] == 32
    for report in (full, mini):
        assert report["config"]["optimizer"] == "sgd" and report["config"]["epochs"] == 2
        for summary in report["impls"].values():
            assert len(summary["runs"][0]["history"]["loss"]) == 2
    # the same number of epochs: mini-batch's ~40x more steps bring the loss further down, on both sides
    for impl in ("keras", "tf"):
        assert gradient_descent.mean_curve(mini["impls"][impl], "loss")[-1] < \
            gradient_descent.mean_curve(full["impls"][impl], "loss")[-1]
    assert (tmp_path / "gradient-descent.png").stat().st_size > 10_000
    assert "| full batch | 1 | keras |" in out


def test_bad_arguments_exit_2(module_main, tmp_path):
    code, _, err = module_main("common.gradient_descent", "--seeds", "0", "--out", str(tmp_path))
    assert code == 2 and "seeds must be at least 1" in err
