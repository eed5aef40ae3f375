// Drives a local chain with @solana/web3.js: the same calls a dApp makes against a validator.
// Usage: node client.mjs <rpc-url> <program-id>. Prints one JSON object of observations; exits non-zero on failure.
import {
  Connection,
  Keypair,
  LAMPORTS_PER_SOL,
  PublicKey,
  SendTransactionError,
  SystemProgram,
  Transaction,
  TransactionMessage,
  VersionedTransaction,
  sendAndConfirmTransaction,
} from "@solana/web3.js";

const [url, programIdText] = process.argv.slice(2);
const connection = new Connection(url, "confirmed");
const seen = {};

async function airdrop(pubkey, lamports) {
  const signature = await connection.requestAirdrop(pubkey, lamports);
  const { blockhash, lastValidBlockHeight } = await connection.getLatestBlockhash();
  const result = await connection.confirmTransaction({ signature, blockhash, lastValidBlockHeight }, "confirmed");
  if (result.value.err) throw new Error(`airdrop failed: ${JSON.stringify(result.value.err)}`);
  return signature;
}

const payer = Keypair.generate();
const recipient = Keypair.generate();

seen.version = await connection.getVersion();
seen.genesisHash = await connection.getGenesisHash();
seen.slot = await connection.getSlot();
seen.epochInfo = await connection.getEpochInfo();

await airdrop(payer.publicKey, 2 * LAMPORTS_PER_SOL);
seen.payerAfterAirdrop = await connection.getBalance(payer.publicKey);

// Legacy transfer, confirmed by web3.js's own polling.
const transfer = new Transaction().add(
  SystemProgram.transfer({ fromPubkey: payer.publicKey, toPubkey: recipient.publicKey, lamports: 0.25 * LAMPORTS_PER_SOL }),
);
const transferSignature = await sendAndConfirmTransaction(connection, transfer, [payer], { commitment: "confirmed" });
seen.transferSignature = transferSignature;
seen.recipientBalance = await connection.getBalance(recipient.publicKey);
seen.payerAfterTransfer = await connection.getBalance(payer.publicKey);

const info = await connection.getAccountInfo(recipient.publicKey);
seen.recipientAccount = { lamports: info.lamports, owner: info.owner.toBase58(), executable: info.executable, dataLength: info.data.length };

const tx = await connection.getTransaction(transferSignature, { commitment: "confirmed", maxSupportedTransactionVersion: 0 });
seen.transferMeta = { fee: tx.meta.fee, err: tx.meta.err, logs: tx.meta.logMessages, slot: tx.slot, version: tx.version };
const parsed = await connection.getParsedTransaction(transferSignature, { commitment: "confirmed", maxSupportedTransactionVersion: 0 });
seen.parsedAccountKeys = parsed.transaction.message.accountKeys.map((k) => ({ pubkey: k.pubkey.toBase58(), signer: k.signer, writable: k.writable }));

const statuses = await connection.getSignatureStatuses([transferSignature], { searchTransactionHistory: true });
seen.status = statuses.value[0];

// Versioned (v0) transfer: simulate first, then send and confirm with the blockhash strategy.
const latest = await connection.getLatestBlockhash();
const message = new TransactionMessage({
  payerKey: payer.publicKey,
  recentBlockhash: latest.blockhash,
  instructions: [SystemProgram.transfer({ fromPubkey: payer.publicKey, toPubkey: recipient.publicKey, lamports: 1_000_000 })],
}).compileToV0Message();
const v0 = new VersionedTransaction(message);
v0.sign([payer]);
const simulation = await connection.simulateTransaction(v0, { sigVerify: true });
seen.simulation = { err: simulation.value.err, unitsConsumed: simulation.value.unitsConsumed, logs: simulation.value.logs };
seen.feeForMessage = (await connection.getFeeForMessage(message)).value;
const v0Signature = await connection.sendTransaction(v0);
const v0Result = await connection.confirmTransaction({ signature: v0Signature, ...latest }, "confirmed");
seen.v0Err = v0Result.value.err;
seen.recipientAfterV0 = await connection.getBalance(recipient.publicKey);

const many = await connection.getMultipleAccountsInfo([payer.publicKey, recipient.publicKey, Keypair.generate().publicKey]);
seen.multiple = many.map((a) => (a === null ? null : a.lamports));
seen.signaturesForRecipient = (await connection.getSignaturesForAddress(recipient.publicKey)).map((s) => s.signature);
seen.rentExempt = await connection.getMinimumBalanceForRentExemption(165);
seen.prioritizationFees = (await connection.getRecentPrioritizationFees()).length;
seen.blockhashValid = (await connection.isBlockhashValid(latest.blockhash)).value;

// A failing preflight surfaces as SendTransactionError carrying the program logs.
const tooMuch = new Transaction().add(
  SystemProgram.transfer({ fromPubkey: recipient.publicKey, toPubkey: payer.publicKey, lamports: 100 * LAMPORTS_PER_SOL }),
);
try {
  await sendAndConfirmTransaction(connection, tooMuch, [recipient]);
  seen.preflight = "no error";
} catch (error) {
  seen.preflight = {
    isSendTransactionError: error instanceof SendTransactionError,
    message: error.message,
    logs: error instanceof SendTransactionError ? await error.getLogs(connection) : null,
  };
}

if (programIdText) {
  const program = await connection.getAccountInfo(new PublicKey(programIdText));
  seen.program = { executable: program.executable, owner: program.owner.toBase58() };
}

console.log(JSON.stringify(seen));
