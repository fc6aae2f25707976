"""Bank wealth products (理财): a catalogue staff put on sale, purchases that move the
customer's money into the product's custody account, and the customer's holdings."""
