"""What one replica's training step needs to know about the global batch, under any tf.distribute strategy.

`strategy.experimental_distribute_dataset` splits every global batch across the replicas
in order: 64 examples on two replicas are 32 + 32, and a last, smaller batch splits
unevenly: 11 examples are 6 + 5, one example is 1 + 0. So that the replicas' summed
gradients are the gradient of the global batch mean, each replica sums its per-example
losses and divides by the *global* count, an all-reduce of the replicas' sizes.
`tf.nn.compute_average_loss`'s own default, per-replica size x replicas, would divide
the 6 by 12 and the 5 by 10. (Keras `fit` divides each replica's mean by the replica
count, which has the same flaw on an uneven last batch.)

A value drawn once per global batch (the VAE's noise, the GAN's latent vectors) is drawn
in cross-replica context, one row per example of the global batch, and each replica
takes its own rows: the same rows an example gets on one device.

With one replica every function here reduces to the single-device computation.
"""
import tensorflow as tf

SUM = tf.distribute.ReduceOp.SUM


def _context():
    return tf.distribute.get_replica_context()  # replica context: inside strategy.run, or with no strategy


def global_batch_size(batch):
    """In replica context: the number of examples in this step, summed over every replica (and worker)."""
    size = tf.shape(batch)[0]
    context = _context()
    return size if context.num_replicas_in_sync == 1 else context.all_reduce(SUM, size)


def average_loss(per_example_loss, batch, examples_per_item=1):
    """sum(per_example_loss) / (global batch size * examples_per_item): this replica's share of the global mean.

    examples_per_item counts losses per example of `batch` (the GAN's discriminator scores a
    real and a fake image per example: 2).
    """
    count = global_batch_size(batch) * examples_per_item
    return tf.nn.compute_average_loss(per_example_loss, global_batch_size=count)


def this_replicas_rows(values, batch):
    """This replica's rows of `values`, a tensor with one row per example of the global batch."""
    context = _context()
    if context.num_replicas_in_sync == 1:
        return values
    sizes = context.all_gather(tf.shape(batch)[:1], axis=0)  # (replicas,): every replica's share, in order
    start = tf.reduce_sum(sizes[: context.replica_id_in_sync_group])
    return values[start: start + tf.shape(batch)[0]]


def examples_in(strategy, batch):
    """In cross-replica context: the examples of a distributed batch, over every replica (and worker)."""
    if strategy.num_replicas_in_sync == 1:
        return tf.shape(batch)[0]
    sizes = strategy.run(lambda part: tf.shape(part)[0], args=(batch,))
    return strategy.reduce(SUM, sizes, axis=None)


def compiled_step(replica_step, strategy, input_signature):
    """train_step(*inputs): replica_step(*inputs) on every replica, each of its outputs summed over the replicas.

    The replica steps return batch means already divided by the global batch (average_loss)
    and their batch sizes, so the sums are the global batch's means and size. One trace
    for every batch, the last (smaller) one included: the signature's batch dimension is None.
    """
    @tf.function(input_signature=list(input_signature))
    def train_step(*inputs):
        outputs = strategy.run(replica_step, args=inputs)
        return tf.nest.map_structure(lambda value: strategy.reduce(SUM, value, axis=None), outputs)

    return train_step


def loss_step(loss_fn, model, optimizer, strategy, element_spec):
    """compiled_step of the plain replica step: loss = loss_fn(model, x, y, training=True), this replica's share of
    the global batch's loss (average_loss inside it); its gradients (of the loss scaled under mixed_float16)
    applied by the optimizer, which sums them over the replicas. train_step(x, y) -> (loss, batch size)."""
    def replica_step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(model, x, y, training=True)
            scaled_loss = optimizer.scale_loss(loss)  # mixed_float16: loss * loss scale (optim.LossScaleOptimizer)
        optimizer.apply(tape.gradient(scaled_loss, model.trainable_weights), model.trainable_weights)
        return loss, tf.shape(x)[0]

    return compiled_step(replica_step, strategy, element_spec)


def all_rows(values):
    """In replica context: every replica's rows of `values` concatenated in replica order (the global batch's rows,
    as one device holds them); `values` itself with one replica."""
    context = _context()
    return values if context.num_replicas_in_sync == 1 else context.all_gather(values, axis=0)
