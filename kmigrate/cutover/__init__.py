"""The fenced cutover's checks (issue 15), as algorithms over small read interfaces.

* :mod:`kmigrate.cutover.quiet` -- ``source-quiet``: no selected source partition
  received a record for ``quiet_s`` seconds (high watermarks sampled over time);
* :mod:`kmigrate.cutover.consumers` -- ``consumers-on-target``: each translated consumer
  group has members on the target and has committed at or past its translated offsets,
  and is no longer active on the source.

The order ``kmigrate init`` writes them in, after Confluent's kcp cutover (lag, fence,
verify the fence, promote, switch): stop the producers, ``source-quiet``, the final
catch-up mirror and ``verify``, ``translate-offsets``, start the consumers on the target,
``consumers-on-target``.

No cluster client here: the steps (:mod:`kmigrate.steps.source_quiet`,
:mod:`kmigrate.steps.consumers_on_target`) pass the cluster port's reads in.
"""
