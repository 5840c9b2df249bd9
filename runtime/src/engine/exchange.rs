//! Exchange pacts on timely's `DistributorPact` that send big messages.
//!
//! timely's own `Exchange` pact cuts each worker's share into containers of about 8 KiB
//! (~150 items here), and every container is one message: between processes, each one is
//! framed, queued and read back on its own. The distributors here collect up to
//! [`MESSAGE_ITEMS`] items per target worker before sending, so a batch crosses in a few
//! messages. Routing is unchanged: an item with hash `h` goes to worker `h % workers`.

use timely::communication::Push;
use timely::dataflow::channels::pact::DistributorPact;
use timely::dataflow::channels::pushers::exchange::Distributor;
use timely::dataflow::channels::Message;
use timely::progress::Stamp;

use timely::dataflow::operators::generic::Operator;
use timely::dataflow::Stream;

use crate::item::KeyedItem;

/// Items per message to one worker, at most.
pub const MESSAGE_ITEMS: usize = 4096;

/// The pact a distributor of type `D` is built with, for any number of workers.
pub type Pact<D> = DistributorPact<Box<dyn FnOnce(usize) -> D>>;

/// Routes keyed items to the worker that owns their key (see [`super::owner`]).
pub fn keyed_pact() -> Pact<HashDistributor<KeyedItem, impl FnMut(&KeyedItem) -> u64>> {
    // A closure, not a function pointer: the partition loop inlines it.
    hash_pact(|item: &KeyedItem| item.route())
}

/// Routes each item to worker `hash(item) % workers`.
pub fn hash_pact<D: 'static, F: FnMut(&D) -> u64 + 'static>(hash: F) -> Pact<HashDistributor<D, F>> {
    DistributorPact(Box::new(move |workers| HashDistributor::new(hash, workers)))
}

/// Spreads whole containers over the workers in turn, starting after `first`: for input
/// that only some workers read, so every worker gets a share of the work.
pub fn spread_pact(first: usize) -> Pact<SpreadDistributor> {
    DistributorPact(Box::new(move |workers| SpreadDistributor { next: first + 1 }.wrapped(workers)))
}

/// Moves `stream` between workers as `pact` says, changing nothing else.
pub fn exchange<'s, D, Dist>(stream: Stream<'s, u64, Vec<D>>, pact: Pact<Dist>) -> Stream<'s, u64, Vec<D>>
where
    D: serde::Serialize + for<'a> serde::Deserialize<'a> + Send + 'static,
    Dist: Distributor<Vec<D>> + 'static,
{
    stream.unary(pact, "Exchange", |_, _| {
        move |input, output| {
            input.for_each_stamp(|cap, data| {
                output.session(&cap).give_containers(data);
            });
        }
    })
}

/// Collects items per target worker and sends them [`MESSAGE_ITEMS`] at a time.
pub struct HashDistributor<D, F> {
    buffers: Vec<Vec<D>>,
    hash: F,
}

impl<D, F: FnMut(&D) -> u64> HashDistributor<D, F> {
    /// For `workers` target workers.
    pub fn new(hash: F, workers: usize) -> Self {
        HashDistributor { buffers: (0..workers).map(|_| Vec::new()).collect(), hash }
    }
}

/// Sends `buffer` and leaves it empty. A pusher may hand a container back (to be reused);
/// whatever it holds has been sent already, so it is cleared, never sent again.
fn send<T: Clone, D, P: Push<Message<T, Vec<D>>>>(buffer: &mut Vec<D>, stamp: &Stamp<T>, pusher: &mut P) {
    Message::push_at(buffer, stamp.clone(), pusher);
    buffer.clear();
}

impl<D, F: FnMut(&D) -> u64> Distributor<Vec<D>> for HashDistributor<D, F> {
    fn partition<T: Clone, P: Push<Message<T, Vec<D>>>>(&mut self, container: &mut Vec<D>, stamp: &Stamp<T>, pushers: &mut [P]) {
        debug_assert_eq!(self.buffers.len(), pushers.len());
        let workers = pushers.len();
        for item in container.drain(..) {
            let target = super::owner_by_hash((self.hash)(&item), workers);
            let buffer = &mut self.buffers[target];
            if buffer.capacity() == 0 {
                buffer.reserve(MESSAGE_ITEMS);
            }
            buffer.push(item);
            if buffer.len() >= MESSAGE_ITEMS {
                send(buffer, stamp, &mut pushers[target]);
            }
        }
    }

    fn flush<T: Clone, P: Push<Message<T, Vec<D>>>>(&mut self, stamp: &Stamp<T>, pushers: &mut [P]) {
        for (buffer, pusher) in self.buffers.iter_mut().zip(pushers.iter_mut()) {
            if !buffer.is_empty() {
                send(buffer, stamp, pusher);
            }
        }
    }

    fn relax(&mut self) {
        for buffer in &mut self.buffers {
            if buffer.is_empty() {
                *buffer = Vec::new();
            }
        }
    }
}

/// Sends each container whole to the next worker in turn.
pub struct SpreadDistributor {
    next: usize,
}

impl SpreadDistributor {
    fn wrapped(mut self, workers: usize) -> Self {
        self.next %= workers.max(1);
        self
    }
}

impl<D> Distributor<Vec<D>> for SpreadDistributor {
    fn partition<T: Clone, P: Push<Message<T, Vec<D>>>>(&mut self, container: &mut Vec<D>, stamp: &Stamp<T>, pushers: &mut [P]) {
        if container.is_empty() {
            return;
        }
        let target = self.next % pushers.len();
        self.next = (target + 1) % pushers.len();
        send(container, stamp, &mut pushers[target]);
    }

    fn flush<T: Clone, P: Push<Message<T, Vec<D>>>>(&mut self, _stamp: &Stamp<T>, _pushers: &mut [P]) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{owner, route_hash};
    use crate::item::Item;

    /// A pusher that records what it is sent and hands back a container of its own that
    /// is full of stale items, as a recycling pusher may.
    struct Recorder {
        sent: Vec<Vec<String>>,
        hand_back: bool,
    }

    impl Push<Message<u64, Vec<KeyedItem>>> for Recorder {
        fn push(&mut self, element: &mut Option<Message<u64, Vec<KeyedItem>>>) {
            if let Some(message) = element.take() {
                self.sent.push(message.data.iter().map(|i| i.key.clone()).collect());
                if self.hand_back {
                    let mut data = message.data;
                    data.push(KeyedItem::new("stale".into(), Item::Str(String::new())));
                    *element = Some(Message::new(message.stamp, data));
                }
            }
        }
    }

    fn items(n: usize) -> Vec<KeyedItem> {
        (0..n).map(|i| KeyedItem::new(format!("k{}", i % 97), Item::Str(i.to_string()))).collect()
    }

    fn run(hand_back: bool, workers: usize, batches: &[usize]) -> Vec<Recorder> {
        let mut pushers: Vec<Recorder> = (0..workers).map(|_| Recorder { sent: Vec::new(), hand_back }).collect();
        let mut d = HashDistributor::new(|i: &KeyedItem| route_hash(&i.key), workers);
        let stamp = Stamp::from_elem(3u64);
        for &n in batches {
            let mut batch = items(n);
            d.partition(&mut batch, &stamp, &mut pushers);
            assert!(batch.is_empty());
        }
        d.flush(&stamp, &mut pushers);
        pushers
    }

    #[test]
    fn every_item_reaches_its_keys_owner_once_and_in_order() {
        for hand_back in [false, true] {
            let pushers = run(hand_back, 3, &[5000, 7, 9000]);
            let mut expected: Vec<Vec<String>> = vec![Vec::new(); 3];
            for n in [5000, 7, 9000] {
                for item in items(n) {
                    expected[owner(&item.key, 3)].push(item.key);
                }
            }
            for (w, p) in pushers.iter().enumerate() {
                assert!(p.sent.iter().all(|m| !m.is_empty() && m.len() <= MESSAGE_ITEMS));
                let got: Vec<String> = p.sent.iter().flatten().cloned().collect();
                assert_eq!(got, expected[w], "worker {w}, hand_back {hand_back}");
            }
        }
    }

    #[test]
    fn full_buffers_go_out_before_the_flush() {
        let pushers = run(true, 2, &[3 * MESSAGE_ITEMS]);
        let sizes: Vec<usize> = pushers.iter().flat_map(|p| p.sent.iter().map(Vec::len)).collect();
        assert!(sizes.iter().filter(|&&s| s == MESSAGE_ITEMS).count() >= 2, "{sizes:?}");
        assert_eq!(sizes.iter().sum::<usize>(), 3 * MESSAGE_ITEMS);
    }

    #[test]
    fn spreading_sends_whole_containers_in_turn() {
        let mut pushers: Vec<Recorder> = (0..3).map(|_| Recorder { sent: Vec::new(), hand_back: true }).collect();
        let mut d = SpreadDistributor { next: 1 }.wrapped(3);
        let stamp = Stamp::from_elem(0u64);
        for n in [10, 0, 20, 30, 40] {
            let mut batch = items(n);
            d.partition(&mut batch, &stamp, &mut pushers);
            assert!(batch.is_empty());
        }
        let sizes: Vec<Vec<usize>> = pushers.iter().map(|p| p.sent.iter().map(Vec::len).collect()).collect();
        assert_eq!(sizes, vec![vec![30], vec![10, 40], vec![20]]);
    }
}
