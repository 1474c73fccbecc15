export { SimulatedRobot, type SimulatedRobotOptions } from './robot.js';
export { RobotModel, RobotRefused, type RobotChange, type RobotValues, type Pose } from './model.js';
export { ROBOT_DESCRIPTION } from './description.js';
export { Noise, type NoiseOptions } from './noise.js';
export { VirtualSerialPorts } from './virtual-port.js';
export { RobotOnPort, type RobotPortOptions } from './robot-port.js';
export { SocatPair, socatAvailable, type SocatPairOptions } from './socat-pair.js';
export type { LinkProtocolName } from './protocol.js';
