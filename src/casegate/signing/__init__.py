"""Our own domains' marks on mail we send: DKIM keys and signatures, SRS envelope senders."""
