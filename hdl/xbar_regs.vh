// Register map of the crossbar training controller (xbar_ctrl).
//
// SINGLE SOURCE OF TRUTH: cosim/controller.py parses every `localparam` line of this file
// (one per line, `localparam [w:0] NAME = <Verilog number>;`).  Do not restate these numbers
// anywhere else.  Included inside the body of xbar_ctrl; include path is relative to the
// repository root ("hdl/xbar_regs.vh"), so tools run from the root or get -I<root>.
//
// Host bus: 8-bit address, 16-bit data.  Writes are sampled on the rising clock edge when
// host_we = 1; host_rdata is COMBINATIONAL from host_addr (no read latency).
//
// The array's shape is NOT in this file: N_IN, N_HID, N_OUT are parameters of xbar_ctrl /
// xbar_top (N_DEV = N_IN*N_HID + N_HID*N_OUT, N_NEURON = N_HID + N_OUT); a host reads them
// from REG_N_IN .. REG_N_DEV.  Per-device and per-input data is reached through an index
// register plus a data window (up to 65535 devices / inputs / neurons).
//
// Writes while the controller is busy (a run in progress, REG_STATUS bit BUSY) are IGNORED,
// except to the index registers REG_DEV_IDX, REG_IN_IDX, REG_NRN_IDX (pointers of the host's
// windows, never used by the sequencer): no register the sequencer uses changes during a run.
// Unmapped addresses read 0; writes to them are ignored.

// ---- scalar registers --------------------------------------------------------------------
localparam [7:0] REG_CTRL = 8'h00;        // W: bit START (strobe), bit MODE; R: MODE
localparam [7:0] REG_STATUS = 8'h01;      // R: bit BUSY, bit DONE, bit MODE of the last run
localparam [7:0] REG_NFAIL = 8'h02;       // R: devices flagged failed in the last program run
localparam [7:0] REG_TOL = 8'h03;         // RW: verify window half-width floor (sense ADC codes)
localparam [7:0] REG_MAX_PULSES = 8'h04;  // RW: max write+erase pulses per device
localparam [7:0] REG_RESET_EN = 8'h05;    // RW: bit0 = reset pulse before each device
localparam [7:0] REG_WRITE_CODE = 8'h06;  // RW: pulse-DAC code of a write (signed)
localparam [7:0] REG_WRITE_CYC = 8'h07;   // RW: write pulse width (clock cycles, 0 -> 1)
localparam [7:0] REG_ERASE_CODE = 8'h08;  // RW: pulse-DAC code of an erase (signed)
localparam [7:0] REG_ERASE_CYC = 8'h09;   // RW: erase pulse width (cycles, 0 -> 1)
localparam [7:0] REG_RESET_CODE = 8'h0A;  // RW: pulse-DAC code of the reset pulse (signed)
localparam [7:0] REG_RESET_CYC = 8'h0B;   // RW: reset pulse width (cycles, 0 -> 1)
localparam [7:0] REG_READ_CODE = 8'h0C;   // RW: pulse-DAC code of a read (signed)
localparam [7:0] REG_READ_CYC = 8'h0D;    // RW: read pulse width (cycles, < 2 -> 2)
localparam [7:0] REG_READ_SAMPLE = 8'h0E; // RW: cycles from read-pulse start to adc_sample rise
localparam [7:0] REG_GAP_CYC = 8'h0F;     // RW: deselected cycles after each pulse (0 -> 1)
localparam [7:0] REG_INF_SETTLE = 8'h12;  // RW: cycles from inputs on to adc_sample (0 -> 1)
localparam [7:0] REG_CLASS_THR = 8'h13;   // RW: class = (out code >= this)
localparam [7:0] REG_INF_CLASS = 8'h18;   // R: class of the last inference: N_OUT == 1: bit0 =
                                          //    (output code >= CLASS_THR); N_OUT > 1: index
                                          //    of the largest output code (lowest index on ties)
localparam [7:0] REG_ADAPT = 8'h19;       // RW: bit ADAPT_EN = halve write/erase widths on reversal
localparam [7:0] REG_MIN_CYC = 8'h1A;     // RW: smallest adaptive write/erase width (cycles, 0 -> 1)
localparam [7:0] REG_STEP_WAIT = 8'h1B;   // RW: host/MCU step latency, cycles [15:0] (0 = off)
localparam [7:0] REG_STEP_WAIT_HI = 8'h1C; // RW: ... cycles [31:16]; wait after every verify read
localparam [7:0] REG_TOL_SHIFT = 8'h1D;   // RW: bits [3:0] s; window = max(TOL, target >> s) (0 = off)

// ---- index + data windows (0x20 .. 0x2F) ---------------------------------------------------
// Device k: layer 1 (input i -> hidden j) k = i*N_HID + j; layer 2 (hidden j -> output o)
// k = N_IN*N_HID + j*N_OUT + o.  Neuron n: 0 .. N_HID-1 hidden, N_HID .. N_HID+N_OUT-1 outputs.
// An index >= the size reads 0 through its window and writes through it are ignored.
localparam [7:0] REG_DEV_IDX = 8'h20;     // RW: device index k for the DEV_* window (16 bits)
localparam [7:0] REG_DEV_TARGET = 8'h21;  // RW: target sense code of device DEV_IDX; a write
                                          //     (taken while idle) then increments DEV_IDX
localparam [7:0] REG_DEV_MASK = 8'h22;    // RW: bit0 = program device DEV_IDX (no increment)
localparam [7:0] REG_MASK_ALL = 8'h23;    // W: bit0 copied into the mask bit of every device
localparam [7:0] REG_DEV_PCOUNT = 8'h24;  // R: write+erase pulses applied to DEV_IDX (last run)
localparam [7:0] REG_DEV_FLAG = 8'h25;    // R: bits FLAG_OK / FLAG_FAIL / FLAG_DONE of DEV_IDX
localparam [7:0] REG_DEV_CODE = 8'h26;    // R: last verify (sense ADC) code of DEV_IDX
localparam [7:0] REG_IN_IDX = 8'h27;      // RW: input index i for REG_IN_CODE (16 bits)
localparam [7:0] REG_IN_CODE = 8'h28;     // RW: input-DAC code of input IN_IDX; a write (taken
                                          //     while idle) then increments IN_IDX
localparam [7:0] REG_NRN_IDX = 8'h29;     // RW: neuron index n for REG_NRN_CODE (16 bits)
localparam [7:0] REG_NRN_CODE = 8'h2A;    // R: ADC code of neuron NRN_IDX (last inference)
localparam [7:0] REG_N_IN = 8'h2B;        // R: parameter N_IN (inputs)
localparam [7:0] REG_N_HID = 8'h2C;       // R: parameter N_HID (hidden neurons)
localparam [7:0] REG_N_OUT = 8'h2D;       // R: parameter N_OUT (output neurons)
localparam [7:0] REG_N_DEV = 8'h2E;       // R: N_DEV = N_IN*N_HID + N_HID*N_OUT (devices)

// ---- bit positions -----------------------------------------------------------------------
localparam integer CTRL_START = 0;
localparam integer CTRL_MODE = 1;         // 0 = program (write-verify), 1 = inference
localparam integer STATUS_BUSY = 0;
localparam integer STATUS_DONE = 1;
localparam integer STATUS_MODE = 2;
localparam integer FLAG_OK = 0;
localparam integer FLAG_FAIL = 1;
localparam integer FLAG_DONE = 2;
localparam integer ADAPT_EN = 0;

// ---- phase codes (top-level phase[2:0]) --------------------------------------------------
localparam [2:0] PHASE_IDLE = 3'd0;
localparam [2:0] PHASE_RESET = 3'd1;
localparam [2:0] PHASE_WRITE = 3'd2;
localparam [2:0] PHASE_ERASE = 3'd3;
localparam [2:0] PHASE_READ = 3'd4;
localparam [2:0] PHASE_INFER = 3'd5;

// ---- fixed timing of every pulse (clock cycles) ------------------------------------------
localparam [15:0] SEL_SETUP_CYC = 16'd2;  // sel on -> pulse on
localparam [15:0] SEL_HOLD_CYC = 16'd2;   // pulse off -> sel off
