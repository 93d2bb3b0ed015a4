"""What groupvae writes to disk: atomic files, checkpoint files, run directories.

* :mod:`~groupvae.store.atomic`: every file written through a temporary file and a rename;
* :mod:`~groupvae.store.checkpoint_files`: a checkpoint directory's files (config, weights,
  metadata with SHA-256 hashes), read and written without knowing any model family;
* :mod:`~groupvae.store.run_directory`: the ``--out`` policy of a run directory, its
  manifest of what groupvae wrote there and its lock (one writer at a time);
* :mod:`~groupvae.store.machine`: what a results file records of the machine.
"""
