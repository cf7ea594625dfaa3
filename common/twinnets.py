"""The `twinnets` command: list, train, compare, bench, prepare, generate.

Built on common/cli.py (flags, train_one, guarded), which knows nothing of these
subcommands; compare and bench are imported only when they run.
"""
import os
import sys

from common import cli, registry
from common import data as data_module
from common.configs import PRECISIONS


def _list(_args):
    rows = [("network", "default data", "metric", "floor", "tolerance", "title")]
    for spec in registry.NETWORKS.values():
        direction = ">=" if spec.higher_is_better else "<="
        rows.append((spec.name, spec.default_dataset, spec.metric, f"{direction} {spec.floor:g}", f"{spec.tolerance:g}", spec.title))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1])


def _network_argument(argv_tail):
    """The network named after the subcommand, so that its config flags can be added."""
    for token in argv_tail:
        if not token.startswith("-"):
            return token
    return None


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = cli.Parser(prog="twinnets", description="Every network twice: Keras and raw TensorFlow, proven the same.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=cli.Parser)
    commands.add_parser("list", help="the networks, their default data, metric and floor")

    network = _network_argument(argv[1:]) if len(argv) > 1 else None
    spec = registry.NETWORKS.get(network)

    train = commands.add_parser("train", help="train one implementation of a network")
    train.add_argument("network", help=", ".join(registry.NETWORKS))
    train.add_argument("--impl", choices=cli.IMPLS, required=True)
    train.add_argument("--out", default=None, help="folder for metrics.json (default: runs/<network>-<impl>)")
    cli.add_run_flags(train, one_run=True)

    compare = commands.add_parser("compare", help="train both implementations over seeds and compare")
    compare.add_argument("network", help=", ".join(registry.NETWORKS))
    compare.add_argument("--seeds", type=int, default=3, help="train each implementation with seeds 0..K-1 (default 3)")
    compare.add_argument("--json", default=None, help="report path (default: runs/compare-<network>.json)")
    compare.add_argument("--plot", default=None, help="learning-curve PNG (default: runs/compare-<network>.png)")
    cli.add_run_flags(compare)

    bench = commands.add_parser("bench", help="training throughput of both implementations (samples/s)")
    bench.add_argument("network", nargs="?", default="all", help="all (default) or one of " + ", ".join(registry.NETWORKS))
    bench.add_argument("--repeats", type=int, default=3, help="interleaved runs of each implementation (default 3)")
    bench.add_argument("--epochs", type=int, default=6, help="epochs per run, the first excluded as warm-up (default 6)")
    bench.add_argument("--json", default=os.path.join("runs", "bench.json"), help="report path (default: runs/bench.json)")
    bench.add_argument("--plot", default=os.path.join("runs", "bench.png"), help="bar chart (default: runs/bench.png)")
    bench.add_argument("--quiet", action="store_true", help="no per-run progress")
    bench.add_argument("--precision", default="float32", choices=PRECISIONS,
                       help="every run's --precision (default float32; the targets are float32 ones)")

    prepare = commands.add_parser("prepare", help="download and prepare a tfds dataset (needs internet)")
    prepare.add_argument("dataset", choices=data_module.TFDS)
    prepare.add_argument("--data-dir", default=None)

    generate = commands.add_parser("generate", help="sample text from a charlm trained with --checkpoint-dir DIR")
    generate.add_argument("network", choices=("charlm",))
    generate.add_argument("--impl", choices=cli.IMPLS, required=True)
    generate.add_argument("--checkpoint-dir", required=True, metavar="DIR",
                          help="where `twinnets train charlm --impl IMPL --checkpoint-dir DIR` saved the model")
    generate.add_argument("--temperature", type=float, default=1.0, help="softmax(logits / T): > 0 (default 1.0)")
    generate.add_argument("--length", type=int, default=200, help="characters to generate at most (default 200)")
    generate.add_argument("--prompt", default="", help="text the generated text continues (default: none)")
    generate.add_argument("--seed", type=int, default=0, help="the sampling's random stream (default 0)")

    if spec is not None and argv and argv[0] in ("train", "compare"):
        cli.add_config_flags(train if argv[0] == "train" else compare, spec.config_class)

    args = parser.parse_args(argv)
    if args.command == "list":
        return cli.guarded(lambda: _list(args))
    if args.command == "prepare":
        return cli.guarded(lambda: print(f"prepared {args.dataset} in {data_module.prepare(args.dataset, args.data_dir)}"))
    if args.command == "train":
        return cli.guarded(lambda: cli.train_one(registry.get(args.network).name, args.impl, args))
    if args.command == "generate":
        from common import charlm

        return cli.guarded(lambda: print("\n".join(charlm.generate(
            args.impl, args.checkpoint_dir, prompt=args.prompt, length=args.length, temperature=args.temperature,
            seed=args.seed))))
    if args.command == "bench":
        from common import bench as bench_module

        return cli.guarded(lambda: bench_module.run_from_args(args))
    from common import compare as compare_module

    if args.deterministic:
        cli.make_deterministic(0)  # each run still sets its own seed
    return cli.guarded(lambda: compare_module.run_from_args(args))


if __name__ == "__main__":
    sys.exit(main())
