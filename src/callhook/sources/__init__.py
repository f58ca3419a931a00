"""Where events come from: the Asterisk AMI client and pipeline, the simulator."""
