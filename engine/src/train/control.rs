//! The commands a running trainer takes, and how the loop polls them: before every step and
//! between epochs (burn's learner does the same with its `Interrupter`).

use crossbeam_channel::Receiver;

use super::events::{EventSink, TrainEvent};

/// Control messages for a running trainer.
#[derive(Clone, Debug, PartialEq)]
pub enum TrainCommand {
    Pause,
    Resume,
    /// Finish the current epoch (validate, checkpoint), then end.
    Stop,
    /// Abort as soon as possible; the last checkpoint stays valid.
    Cancel,
    /// New base learning rate, applied from the next epoch.
    SetLearningRate(f64),
}

/// What the command channel asked for.
pub(super) enum Control {
    Continue,
    Stop,
    Cancel,
}

/// The loop's end of the command channel, with what the commands asked for so far.
pub(super) struct Commands {
    receiver: Receiver<TrainCommand>,
    /// A Stop arrived: the current epoch finishes (validation, checkpoint), then the run ends.
    pub(super) stop_requested: bool,
    /// The base learning rate asked for during this epoch, applied from the next one.
    pub(super) next_lr: Option<f64>,
}

impl Commands {
    pub(super) fn new(receiver: Receiver<TrainCommand>) -> Commands {
        Commands {
            receiver,
            stop_requested: false,
            next_lr: None,
        }
    }

    /// Drain pending commands; while paused, block until resumed, stopped or cancelled.
    pub(super) fn poll(&mut self, sink: &EventSink) -> Control {
        let mut paused = false;
        loop {
            let cmd = if paused {
                match self.receiver.recv() {
                    Ok(c) => Some(c),
                    // The controlling side is gone: nobody can resume us.
                    Err(_) => return Control::Cancel,
                }
            } else {
                self.receiver.try_recv().ok()
            };
            match cmd {
                None => return Control::Continue,
                Some(TrainCommand::Pause) => {
                    if !paused {
                        paused = true;
                        sink.send(TrainEvent::Paused);
                    }
                }
                Some(TrainCommand::Resume) => {
                    if paused {
                        paused = false;
                        sink.send(TrainEvent::Resumed);
                    }
                }
                Some(TrainCommand::Stop) => {
                    self.stop_requested = true;
                    if paused {
                        sink.send(TrainEvent::Resumed);
                    }
                    return Control::Stop;
                }
                Some(TrainCommand::Cancel) => return Control::Cancel,
                Some(TrainCommand::SetLearningRate(lr)) => self.next_lr = Some(lr),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sink() -> (EventSink, Receiver<TrainEvent>) {
        let (tx, rx) = crossbeam_channel::unbounded();
        (EventSink::new(tx), rx)
    }

    #[test]
    fn a_learning_rate_is_kept_for_the_next_epoch_and_training_continues() {
        let (tx, rx) = crossbeam_channel::unbounded();
        let (sink, events) = sink();
        let mut commands = Commands::new(rx);
        tx.send(TrainCommand::SetLearningRate(0.5)).unwrap();
        assert!(matches!(commands.poll(&sink), Control::Continue));
        assert_eq!(commands.next_lr, Some(0.5));
        assert!(!commands.stop_requested);
        assert!(events.try_recv().is_err());
    }

    #[test]
    fn a_stop_while_paused_resumes_then_stops() {
        let (tx, rx) = crossbeam_channel::unbounded();
        let (sink, events) = sink();
        let mut commands = Commands::new(rx);
        for c in [TrainCommand::Pause, TrainCommand::Pause, TrainCommand::Stop] {
            tx.send(c).unwrap();
        }
        assert!(matches!(commands.poll(&sink), Control::Stop));
        assert!(commands.stop_requested);
        let sent: Vec<TrainEvent> = events.try_iter().collect();
        assert!(matches!(
            sent.as_slice(),
            [TrainEvent::Paused, TrainEvent::Resumed]
        ));
    }

    #[test]
    fn a_paused_run_whose_controller_is_gone_is_cancelled() {
        let (tx, rx) = crossbeam_channel::unbounded();
        let (sink, _events) = sink();
        let mut commands = Commands::new(rx);
        tx.send(TrainCommand::Pause).unwrap();
        drop(tx);
        assert!(matches!(commands.poll(&sink), Control::Cancel));
    }
}
